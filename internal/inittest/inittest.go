// Package inittest runs an init under test for real, as PID 1 of a fresh PID
// namespace (unshare) or as a child subreaper that is not PID 1, and lets tests
// await what it prints instead of sleeping. Most starts need root (see Start).
package inittest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Mode is how the init under test runs.
type Mode int

const (
	PID1      Mode = iota // PID 1 of a new PID namespace, with its own /proc
	Subreaper             // an ordinary child of the test, which must make itself a subreaper
)

// Modes is both, for tests that must hold either way.
var Modes = []Mode{PID1, Subreaper}

func (m Mode) String() string {
	if m == PID1 {
		return "as PID 1"
	}
	return "as a subreaper"
}

// Timeout bounds every wait of this package; reaching it fails the test. It is a
// guard against hangs, not a means of synchronisation.
const Timeout = 30 * time.Second

// NoRaceExitDelay is an environment entry for test binaries re-executed as
// services: the race detector otherwise sleeps a second in every exit.
const NoRaceExitDelay = "GORACE=atexit_sleep_ms=0"

// Options shape how the init is started.
type Options struct {
	Env []string // added to the test's environment
	// Binds are bind mounts (target path: source file) made in a private mount
	// namespace before the init starts, e.g. a test /etc/passwd.
	Binds map[string]string
	// RunAs starts the init as "uid:gid" instead of root, with no groups.
	RunAs string
	// Terminal makes a new pseudo-terminal the init's controlling terminal and
	// stdin; Init.Terminal is its master side.
	Terminal bool
	// TerminalOutput, with Terminal, makes the terminal the init's stdout and
	// stderr too, as docker run -it does: Stdout and Stderr are then both what
	// the terminal shows, read from its master side.
	TerminalOutput bool
	// PrivateNetwork starts the init in a new network namespace with only its
	// loopback interface, up: fixed ports such as 127.0.0.1:9100 are free there
	// whatever runs beside the test, and nothing it serves is reachable from it.
	PrivateNetwork bool
}

// An Init is a running init under test.
type Init struct {
	t        *testing.T
	mode     Mode
	cmd      *exec.Cmd
	Stdout   *Lines   // what the services print, passed through
	Stderr   *Lines   // the init's log, and the services' stderr
	Terminal *os.File // master side of the terminal, with Options.Terminal
	done     chan struct{}
	status   int
}

// Start starts argv, the init and its arguments, in mode. The init is killed
// when the test ends if it is still running.
//
// Under `go test -short` (make unit) a start that needs root — PID 1 mode, bind
// mounts, RunAs, a private network — skips t instead.
func Start(t *testing.T, mode Mode, opts Options, argv ...string) *Init {
	t.Helper()
	if needsRoot(mode, opts) {
		NeedsRoot(t)
	}
	wrapped := wrap(mode, opts, argv)
	cmd := exec.Command(wrapped[0], wrapped[1:]...)
	cmd.Env = append(os.Environ(), opts.Env...)
	in := &Init{t: t, mode: mode, cmd: cmd, done: make(chan struct{})}

	// Plain pipes rather than exec's: the init's exit, not the end of its output
	// (which a leftover process may hold open), is what Wait waits for.
	var outputs []*os.File // the init's ends, closed once it has them
	pipe := func() (r, w *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, w)
		return r, w
	}
	var slave *os.File
	if opts.Terminal {
		master, pts, err := openPTY()
		if err != nil {
			t.Fatalf("open a pseudo-terminal: %v", err)
		}
		t.Cleanup(func() { master.Close() })
		slave = pts
		outputs = append(outputs, slave)
		in.Terminal = master
		cmd.Stdin = slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}
	if opts.Terminal && opts.TerminalOutput {
		// What the terminal shows; EIO, once the last process holding it is
		// gone, ends it.
		cmd.Stdout, cmd.Stderr = slave, slave
		in.Stdout = readLines(in.Terminal)
		in.Stderr = in.Stdout
	} else {
		stdout, stdoutW := pipe()
		stderr, stderrW := pipe()
		cmd.Stdout, cmd.Stderr = stdoutW, stderrW
		in.Stdout, in.Stderr = readLines(stdout), readLines(stderr)
	}
	err := cmd.Start()
	for _, f := range outputs {
		f.Close()
	}
	if err != nil {
		t.Fatalf("start %v: %v", wrapped, err)
	}
	go func() {
		err := cmd.Wait()
		in.status = exitStatus(cmd.ProcessState, err)
		close(in.done)
	}()
	t.Cleanup(func() {
		select {
		case <-in.done:
		default:
			cmd.Process.Kill()
			<-in.done
			t.Errorf("the init was still running at the end of the test; log:\n%s", strings.Join(in.Stderr.All(), "\n"))
		}
	})
	return in
}

// wrap builds the command line that starts argv in mode: unshare for new
// namespaces, a shell to prepare them (loopback up, bind mounts), setpriv for
// RunAs. Each execs the next, so the init keeps the pid it started with.
// NeedsRoot marks t as needing root (namespaces, mounts, another uid): under
// `go test -short` (make unit) it skips t; otherwise, run as another user, it
// fails t at once with that reason instead of letting it fail on a symptom.
func NeedsRoot(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs root; skipped under -short (make unit)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (PID namespaces, mounts or switching users): run it as root")
	}
}

// needsRoot reports whether wrap needs root: namespaces, mounts or another uid.
func needsRoot(mode Mode, opts Options) bool {
	return mode == PID1 || len(opts.Binds) > 0 || opts.RunAs != "" || opts.PrivateNetwork
}

func wrap(mode Mode, opts Options, argv []string) []string {
	if opts.RunAs != "" {
		uid, gid, _ := strings.Cut(opts.RunAs, ":")
		argv = append([]string{"setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "--"}, argv...)
	}
	var script []string
	if opts.PrivateNetwork {
		script = append(script, "ip link set lo up")
	}
	for target, source := range opts.Binds {
		script = append(script, fmt.Sprintf("mount --bind %q %q", source, target))
	}
	if len(script) > 0 {
		script = append(script, `exec "$@"`)
		argv = append([]string{"sh", "-ec", strings.Join(script, "\n"), "sh"}, argv...)
	}
	var unshare []string
	switch {
	case mode == PID1:
		unshare = append(unshare, "--pid", "--fork", "--mount-proc", "--kill-child")
	case len(opts.Binds) > 0:
		unshare = append(unshare, "--mount")
	}
	if opts.PrivateNetwork {
		unshare = append(unshare, "--net")
	}
	if len(unshare) > 0 {
		argv = append(append([]string{"unshare"}, unshare...), argv...)
	}
	return argv
}

// PID is the init's pid as the test sees it (not 1 when it is PID 1 of its
// namespace). Call it once the init is known to run, e.g. after awaiting a line.
func (in *Init) PID() int {
	in.t.Helper()
	pid := in.cmd.Process.Pid
	if in.mode != PID1 {
		return pid
	}
	// unshare --fork waits for its one child: the init.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		in.t.Fatalf("find the init under unshare: %v", err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		in.t.Fatalf("find the init under unshare: children %q", b)
	}
	return child
}

// Signal sends sig to the init.
func (in *Init) Signal(sig syscall.Signal) {
	in.t.Helper()
	if err := syscall.Kill(in.PID(), sig); err != nil {
		in.t.Fatalf("signal the init: %v", err)
	}
}

// Wait waits for the init to exit and returns its exit status.
func (in *Init) Wait() int {
	in.t.Helper()
	select {
	case <-in.done:
	case <-time.After(Timeout):
		in.t.Fatalf("the init did not exit within %v; log:\n%s", Timeout, strings.Join(in.Stderr.All(), "\n"))
	}
	// Its last words, unless a leftover process keeps the pipes open.
	in.Stdout.awaitEOF(time.Second)
	in.Stderr.awaitEOF(time.Second)
	return in.status
}

// AwaitLog waits for a JSON log line whose msg is msg and returns its fields.
func (in *Init) AwaitLog(msg string) map[string]any {
	in.t.Helper()
	return in.awaitLog(func(m string) bool { return m == msg })
}

// AwaitLogContaining waits for a JSON log line whose msg contains s.
func (in *Init) AwaitLogContaining(s string) map[string]any {
	in.t.Helper()
	return in.awaitLog(func(m string) bool { return strings.Contains(m, s) })
}

func (in *Init) awaitLog(match func(msg string) bool) map[string]any {
	in.t.Helper()
	var entry map[string]any
	in.Stderr.Await(in.t, func(line string) bool {
		if e, ok := ParseLog(line); ok {
			if msg, _ := e["msg"].(string); match(msg) {
				entry = e
			}
		}
		return entry != nil
	})
	return entry
}

// Logs returns the JSON log lines whose msg is msg, so far.
func (in *Init) Logs(msg string) []map[string]any {
	var found []map[string]any
	for _, line := range in.Stderr.All() {
		if e, ok := ParseLog(line); ok && e["msg"] == msg {
			found = append(found, e)
		}
	}
	return found
}

// LogField returns field, as text, of each JSON log line whose msg is msg, so far.
func (in *Init) LogField(msg, field string) []string {
	var values []string
	for _, e := range in.Logs(msg) {
		values = append(values, fmt.Sprint(e[field]))
	}
	return values
}

// ParseLog reads a JSON log line; services' stderr lines are not.
func ParseLog(line string) (map[string]any, bool) {
	var e map[string]any
	if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil {
		return nil, false
	}
	return e, true
}

// exitStatus is what a shell would report.
func exitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return -1
	}
	return ps.ExitCode()
}
