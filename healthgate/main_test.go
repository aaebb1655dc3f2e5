package healthgate_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/healthgate"
	"github.com/cenkalti/backoff/v4"
)

// TestMain doubles as a fake sidecar: re-executed with
// GO_WANT_HELPER_PROCESS=1, the test binary sends HELPER_MESSAGE to
// $NOTIFY_SOCKET for every line on its stdin, answers "sent", and exits when
// stdin closes. A test thus controls when a real, separate process notifies
// and when it dies.
func TestMain(m *testing.M) {
	if os.Getenv("GO_WANT_HELPER_PROCESS") == "1" {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			if err := healthgate.Notify(os.Getenv("HELPER_MESSAGE")); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			fmt.Println("sent")
		}
		os.Exit(0)
	}
	code := m.Run()
	removeSidecarBuild()
	os.Exit(code)
}

// A child is a running helper process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Scanner
	exited chan struct{} // closed once the child is reaped
}

func startChild(t *testing.T, gate *healthgate.Gate, message string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// GORACE: under -race a process lingers a second at exit by default.
	cmd.Env = append(os.Environ(), "GO_WANT_HELPER_PROCESS=1", "HELPER_MESSAGE="+message, "GORACE=atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, gate.Env()...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout), exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(c.stop)
	return c
}

// notify makes the child send its message and returns once it has.
func (c *child) notify(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	if !c.out.Scan() || c.out.Text() != "sent" {
		t.Fatalf("helper did not send: %q %v", c.out.Text(), c.out.Err())
	}
}

// stop ends the child and returns once it is reaped.
func (c *child) stop() {
	c.stdin.Close()
	<-c.exited
}

// A sidecar is an HTTP server standing in for a sidecar's health endpoint.
type sidecar struct {
	*httptest.Server
	ready  atomic.Bool
	hang   atomic.Bool   // never answer, until the client gives up
	probes chan struct{} // one token per probe received
	count  atomic.Int64
}

func newSidecar(t testing.TB) *sidecar {
	s := &sidecar{probes: make(chan struct{}, 1000)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.count.Add(1)
		signal := func() {
			select {
			case s.probes <- struct{}{}:
			default:
			}
		}
		if s.hang.Load() {
			signal() // the probe arrived; it will never be answered
			<-r.Context().Done()
			return
		}
		// Otherwise signal once the answer is decided, not before: a test that
		// turns the sidecar healthy after the first probe must not have that
		// probe see the change.
		defer signal()
		switch {
		case r.URL.Path != "/v1/health":
			http.NotFound(w, r)
		case s.ready.Load():
			fmt.Fprintln(w, `{"status":"ok"}`)
		default:
			http.Error(w, `{"status":"degraded","message":"database unavailable"}`, http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// steps is a probe schedule of fixed intervals that stops polling after the
// last one, so a test decides exactly when the gate polls.
func steps(ds ...time.Duration) healthgate.Option {
	return healthgate.WithSchedule(func() backoff.BackOff {
		s := stepBackOff(slices.Clone(ds))
		return &s
	})
}

type stepBackOff []time.Duration

func (s *stepBackOff) NextBackOff() time.Duration {
	if len(*s) == 0 {
		return backoff.Stop
	}
	d := (*s)[0]
	*s = (*s)[1:]
	return d
}

func (s *stepBackOff) Reset() {}

func newGate(t *testing.T, url string, timeout time.Duration, opts ...healthgate.Option) *healthgate.Gate {
	t.Helper()
	g, err := healthgate.New(url, timeout, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// A result is what a Wait returned, and when.
type result struct {
	how string
	err error
	at  time.Time
}

func waitAsync(g *healthgate.Gate, exited <-chan struct{}) <-chan result {
	ch := make(chan result, 1)
	go func() {
		how, err := g.Wait(context.Background(), exited)
		ch <- result{how, err, time.Now()}
	}()
	return ch
}

// closedPort returns the address of a loopback port nobody listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}
