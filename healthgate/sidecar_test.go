package healthgate_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/healthgate"
)

// The test sidecar (testdata/sidecar), built once per test binary.
var sidecarBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func sidecarBinary(t *testing.T) string {
	t.Helper()
	b := &sidecarBuild
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "healthgate-sidecar-"); b.err != nil {
			return
		}
		b.bin = filepath.Join(b.dir, "memory-plugin")
		out, err := exec.Command("go", "build", "-o", b.bin, "github.com/agentplatform/tenant-init/testdata/sidecar").CombinedOutput()
		if err != nil {
			b.err = errors.New(string(out))
		}
	})
	if b.err != nil {
		t.Fatalf("building testdata/sidecar: %v", b.err)
	}
	return b.bin
}

func removeSidecarBuild() {
	if sidecarBuild.dir != "" {
		os.RemoveAll(sidecarBuild.dir)
	}
}

// A runningSidecar is the test sidecar started as the supervisor would.
type runningSidecar struct {
	cmd     *exec.Cmd
	stderr  *bytes.Buffer
	exited  chan struct{}
	healthy chan struct{} // closed when it prints "sidecar: healthy at <time>"
}

func startSidecar(t *testing.T, gate *healthgate.Gate, addr string, env ...string) *runningSidecar {
	t.Helper()
	cmd := exec.Command(sidecarBinary(t))
	cmd.Env = append(append([]string{"MEMORY_PLUGIN_LISTEN_ADDR=" + addr}, gate.Env()...), env...)
	s := &runningSidecar{cmd: cmd, stderr: new(bytes.Buffer), exited: make(chan struct{}), healthy: make(chan struct{})}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		in := bufio.NewScanner(stdout)
		for in.Scan() {
			if strings.HasPrefix(in.Text(), "sidecar: healthy at ") {
				close(s.healthy)
			}
		}
	}()
	go func() {
		<-lines // Wait closes stdout; read it all first
		cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.exited
	})
	return s
}

func TestTheTestSidecars(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		opts    []healthgate.Option
		timeout time.Duration
		wantHow string
		wantErr error
		want    string // in the error, or in the sidecar's stderr
	}{
		{name: "one healthy after a delay passes by probe",
			env: []string{"SIDECAR_READY_AFTER=150ms"}, wantHow: "probe"},
		{name: "one that notifies passes by notify",
			env: []string{"SIDECAR_READY_AFTER=150ms", "SIDECAR_NOTIFY=1"}, opts: []healthgate.Option{steps()}, wantHow: "notify"},
		{name: "one never healthy fails at the deadline with its 503",
			env: []string{"SIDECAR_NEVER_READY=1"}, timeout: 300 * time.Millisecond, wantErr: healthgate.ErrNotReady, want: `503 Service Unavailable: {"status":"degraded"`},
		{name: "one that fails fails the gate at once with its message on stderr",
			env: []string{"SIDECAR_FAIL_AFTER=100ms"}, wantErr: healthgate.ErrExited, want: `pq: extension "vector" is not available`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := closedPort(t)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 30 * time.Second
			}
			g := newGate(t, "http://"+addr, timeout, tt.opts...)
			s := startSidecar(t, g, addr, tt.env...)
			how, err := g.Wait(context.Background(), s.exited)
			if how != tt.wantHow || !errors.Is(err, tt.wantErr) {
				s.cmd.Process.Kill()
				<-s.exited // its stderr is complete
				t.Fatalf("Wait = %q, %v; want %q, %v (sidecar stderr: %s)", how, err, tt.wantHow, tt.wantErr, s.stderr)
			}
			if tt.want == "" {
				return
			}
			if tt.wantErr == healthgate.ErrExited {
				<-s.exited
				if !strings.Contains(s.stderr.String(), tt.want) || s.cmd.ProcessState.ExitCode() != 1 {
					t.Fatalf("sidecar exited %d with stderr %q; want 1 and %q", s.cmd.ProcessState.ExitCode(), s.stderr, tt.want)
				}
			} else if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestTheTestSidecarCrashesAfterBootWhenTold(t *testing.T) {
	addr := closedPort(t)
	crash := filepath.Join(t.TempDir(), "crash")
	g := newGate(t, "http://"+addr, 30*time.Second)
	s := startSidecar(t, g, addr, "SIDECAR_CRASH_FILE="+crash)
	if how, err := g.Wait(context.Background(), s.exited); err != nil {
		t.Fatalf("Wait = %q, %v", how, err)
	}
	<-s.healthy
	if err := os.WriteFile(crash, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	<-s.exited
	if code := s.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(s.stderr.String(), "crashing: "+crash+" appeared") {
		t.Fatalf("sidecar exited %d with stderr %q", code, s.stderr)
	}
}
