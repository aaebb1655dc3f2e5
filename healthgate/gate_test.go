package healthgate_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/healthgate"
)

func TestWaitPassesByProbeOnceTheSidecarAnswers200(t *testing.T) {
	s := newSidecar(t)
	g := newGate(t, s.URL, 30*time.Second)
	done := waitAsync(g, nil)
	<-s.probes // the gate asked, and was told 503
	s.ready.Store(true)
	r := <-done
	if r.err != nil || r.how != "probe" {
		t.Fatalf("Wait = %q, %v; want probe, nil", r.how, r.err)
	}
	if n := s.count.Load(); n < 2 {
		t.Fatalf("the gate passed after %d probe(s), before the sidecar turned healthy", n)
	}
}

func TestWaitGivesUpAtTheDeadlineWithTheLastProbeError(t *testing.T) {
	unhealthy := newSidecar(t)
	hanging := newSidecar(t)
	hanging.hang.Store(true)
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name string
		url  string
		opts []healthgate.Option
		want string
	}{
		{name: "a sidecar answering 503 is reported with the status and the body",
			url: unhealthy.URL, want: `503 Service Unavailable: {"status":"degraded","message":"database unavailable"}`},
		{name: "a port nobody listens on is reported as connection refused",
			url: "http://" + closedPort(t), want: "connection refused"},
		{name: "a sidecar that never answers is reported as silent",
			url: hanging.URL, opts: []healthgate.Option{healthgate.WithProbeTimeout(50 * time.Millisecond)}, want: "no answer within 50ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate(t, tt.url, timeout, tt.opts...)
			start := time.Now()
			how, err := g.Wait(context.Background(), nil)
			took := time.Since(start)
			wantErr(t, err, healthgate.ErrNotReady)
			for _, w := range []string{"still not ready after 300ms; last probe: ", tt.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if how != "" || took < timeout || took > timeout+2*time.Second {
				t.Errorf("Wait took %s and said %q; want the %s deadline honoured", took, how, timeout)
			}
		})
	}
}

func TestWaitReturnsAtOnceWhenTheSidecarExits(t *testing.T) {
	tests := []struct {
		name string
		hang bool
	}{
		{name: "while polling a sidecar that answers 503"},
		{name: "while a probe hangs on a sidecar that never answers", hang: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSidecar(t)
			s.hang.Store(tt.hang)
			g := newGate(t, s.URL, 30*time.Second, healthgate.WithProbeTimeout(20*time.Second))
			c := startChild(t, g, "")
			done := waitAsync(g, c.exited)
			<-s.probes // the gate is polling (or stuck in a probe)
			c.stop()
			died := time.Now()
			r := <-done
			wantErr(t, r.err, healthgate.ErrExited)
			if lag := r.at.Sub(died); lag > time.Second {
				t.Fatalf("Wait returned %s after the sidecar died; want well under 1s", lag)
			}
		})
	}
}

func TestWaitOnADeadSidecarDoesNotProbe(t *testing.T) {
	s := newSidecar(t)
	s.ready.Store(true)
	g := newGate(t, s.URL, 30*time.Second)
	exited := make(chan struct{})
	close(exited)
	_, err := g.Wait(context.Background(), exited)
	wantErr(t, err, healthgate.ErrExited)
	if n := s.count.Load(); n != 0 {
		t.Fatalf("the gate probed a dead sidecar %d time(s)", n)
	}
}

func TestNotifyPassesTheGateBeforeTheNextPoll(t *testing.T) {
	s := newSidecar(t)
	const nextPoll = time.Hour
	g := newGate(t, s.URL, 30*time.Second, steps(10*time.Millisecond, nextPoll))
	c := startChild(t, g, "STATUS=serving\nREADY=1")
	done := waitAsync(g, c.exited)
	<-s.probes // first poll: 503; the next one is an hour away
	s.ready.Store(true)
	sent := time.Now()
	c.notify(t)
	r := <-done
	if r.err != nil || r.how != "notify" {
		t.Fatalf("Wait = %q, %v; want notify, nil", r.how, r.err)
	}
	lag := r.at.Sub(sent)
	t.Logf("READY=1 to gate passed: %s, %.2g of the next poll interval", lag, float64(lag)/float64(nextPoll))
	if lag > 5*time.Second {
		t.Fatalf("notify took %s; want well under the 30s deadline", lag)
	}
	if n := s.count.Load(); n != 2 {
		t.Fatalf("the sidecar saw %d probes; want the first poll and ONE confirming probe", n)
	}
}

func TestReadinessNotifiedBeforeWaitBeganCounts(t *testing.T) {
	s := newSidecar(t)
	s.ready.Store(true)
	g := newGate(t, s.URL, 5*time.Second, steps()) // no polling at all
	c := startChild(t, g, "READY=1")
	c.notify(t) // the live sidecar notified between its spawn and the Wait
	how, err := g.Wait(context.Background(), c.exited)
	if err != nil || how != "notify" {
		t.Fatalf("Wait = %q, %v; want notify, nil", how, err)
	}
}

func TestStaleReadinessFromAnEarlierRunIsIgnored(t *testing.T) {
	s := newSidecar(t)
	s.ready.Store(true)
	g := newGate(t, s.URL, 300*time.Millisecond, steps()) // notify is the only way through
	old := startChild(t, g, "STATUS=old run\nREADY=1")
	old.notify(t)
	old.stop() // it dies, and the supervisor reaped it: its READY=1 is stale

	c := startChild(t, g, "READY=1")
	_, err := g.Wait(context.Background(), c.exited)
	wantErr(t, err, healthgate.ErrNotReady)
	if strings.Contains(err.Error(), "old run") || s.count.Load() != 0 {
		t.Fatalf("the stale message was acted on: %v, %d probes", err, s.count.Load())
	}

	// The same gate passes the new run once it notifies.
	done := waitAsync(g, c.exited)
	c.notify(t)
	if r := <-done; r.err != nil || r.how != "notify" {
		t.Fatalf("second Wait = %q, %v; want notify, nil", r.how, r.err)
	}
}

func TestReadinessIsConfirmedByAProbe(t *testing.T) {
	s := newSidecar(t) // never healthy
	g := newGate(t, s.URL, 300*time.Millisecond, steps())
	c := startChild(t, g, "STATUS=migrating 3/7\nREADY=1")
	c.notify(t)
	_, err := g.Wait(context.Background(), c.exited)
	wantErr(t, err, healthgate.ErrNotReady)
	for _, w := range []string{"READY=1 received but the confirming probe failed", "503", "sidecar status: migrating 3/7"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestWaitEndsWithItsContext(t *testing.T) {
	s := newSidecar(t)
	g := newGate(t, s.URL, 30*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := g.Wait(ctx, nil); done <- err }()
	<-s.probes
	cancel()
	wantErr(t, <-done, context.Canceled)
}

func TestEnvNamesAnAbstractSocketThatCloseReleases(t *testing.T) {
	s := newSidecar(t)
	g1 := newGate(t, s.URL, time.Second)
	g2 := newGate(t, s.URL, time.Second)
	env1, env2 := g1.Env(), g2.Env()
	pattern := regexp.MustCompile(fmt.Sprintf(`^NOTIFY_SOCKET=@tenant-init-notify-%d-\d+$`, os.Getpid()))
	if len(env1) != 1 || !pattern.MatchString(env1[0]) || env1[0] == env2[0] {
		t.Fatalf("Env = %q and %q; want distinct abstract sockets matching %s", env1, env2, pattern)
	}
	if err := g1.Close(); err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(env1[0], "NOTIFY_SOCKET=")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("the socket name is still taken after Close: %v", err)
	}
	conn.Close()
	_, err = g1.Wait(context.Background(), nil)
	wantErr(t, err, healthgate.ErrClosed)
}

func TestNewRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		timeout time.Duration
		want    string
	}{
		{name: "a URL without scheme", url: "127.0.0.1:9100", timeout: time.Second, want: "want http://host:port"},
		{name: "a URL without host", url: "http://", timeout: time.Second, want: "want http://host:port"},
		{name: "a zero timeout", url: "http://127.0.0.1:9100", want: "want a positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := healthgate.New(tt.url, tt.timeout)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestNotifyWithoutSocketDoesNothing(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := healthgate.Notify("READY=1"); err != nil {
		t.Fatal(err)
	}
}
