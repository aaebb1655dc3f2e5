package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// bootTimeout bounds every wait for a container to reach a state: generous for
// two shared cores, far below a hang.
const bootTimeout = 60 * time.Second

// A container is one `docker run` of the test image, attached, so its output
// arrives as it is written and the CLI's exit status is the container's.
type container struct {
	name   string
	out    *output
	exited chan struct{} // closed when `docker run` returned
	code   int           // the container's exit status, once exited
}

// spec is what a test changes about a container.
type spec struct {
	env   []string // KEY=VALUE
	flags []string // further `docker run` flags, e.g. --user
	cmd   []string // replaces the image's CMD
}

// start runs the test image with s, removed when the test ends.
func start(t *testing.T, s spec) *container {
	t.Helper()
	image := demoImage(t)
	c := &container{name: containerName(t), out: newOutput(), exited: make(chan struct{})}
	cmd := exec.Command("docker", runArgs(c.name, image, s)...)
	cmd.Stdout, cmd.Stderr = c.out, c.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("docker run: %v", err)
	}
	go func() {
		err := cmd.Wait()
		c.code = cmd.ProcessState.ExitCode()
		if c.code < 0 {
			fmt.Fprintf(c.out, "e2e: docker run ended abnormally: %v\n", err)
		}
		close(c.exited)
	}()
	t.Cleanup(func() {
		_, _ = docker("rm", "-f", "-v", c.name)
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			t.Errorf("docker run %s did not return after the container was removed", c.name)
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", c.name, c.out.text())
		}
	})
	return c
}

func runArgs(name, image string, s spec) []string {
	args := []string{"run", "--name", name, "--label", containerLabel(), "--network", "host"}
	for _, e := range s.env {
		args = append(args, "-e", e)
	}
	args = append(args, s.flags...)
	args = append(args, image)
	return append(args, s.cmd...)
}

var containerSeq atomic.Int64

// containerName is unique per run and says which test made the container.
func containerName(t *testing.T) string {
	slug := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
	if len(slug) > 40 {
		slug = slug[:40]
	}
	return fmt.Sprintf("tie2e-%s-%d-%s", run.id, containerSeq.Add(1), strings.Trim(slug, "-"))
}

// waitFor waits until the container's output contains want, failing t when
// the container exits first or the timeout passes.
func (c *container) waitFor(t *testing.T, want string) {
	t.Helper()
	if err := c.out.waitFor(want, c.exited, bootTimeout); err != nil {
		t.Fatalf("%s: %v\noutput so far:\n%s", c.name, err, c.out.text())
	}
}

// wait waits for the container to exit and returns its status.
func (c *container) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-c.exited:
		return c.code
	case <-time.After(bootTimeout):
		t.Fatalf("%s still runs after %s\noutput so far:\n%s", c.name, bootTimeout, c.out.text())
		return -1
	}
}

// running reports whether the container has not exited yet.
func (c *container) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// stop runs `docker stop -t grace` and returns how long it took and the exit
// status docker recorded.
func (c *container) stop(t *testing.T, grace time.Duration) (time.Duration, int) {
	t.Helper()
	start := time.Now()
	mustDocker(t, "stop", "-t", strconv.Itoa(int(grace.Seconds())), c.name)
	took := time.Since(start)
	c.wait(t)
	code, err := strconv.Atoi(strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.ExitCode}}", c.name)))
	if err != nil {
		t.Fatalf("docker inspect: exit code: %v", err)
	}
	return took, code
}

// exec runs a command in the container with extra environment entries and
// returns its output (decoded, see logText) and exit status.
func (c *container) exec(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	dargs := []string{"exec"}
	for _, e := range env {
		dargs = append(dargs, "-e", e)
	}
	dargs = append(append(dargs, c.name), args...)
	out, err := exec.Command("docker", dargs...).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("docker %s: %v", strings.Join(dargs, " "), err)
	}
	code := 0
	if exit != nil {
		code = exit.ExitCode()
	}
	return logText(out), code
}

// logs returns `docker logs`, as an operator reads it, decoded.
func (c *container) logs(t *testing.T) string {
	t.Helper()
	return logText([]byte(mustDocker(t, "logs", c.name)))
}

// A process is one process of a container, seen from the host.
type process struct {
	pid    int    // in the host's PID namespace
	args   string // its command line
	uid    string // the Uid line of /proc/<pid>/status: real, effective, saved, filesystem
	gid    string // the Gid line, likewise
	groups string // supplementary groups
}

// processes lists the container's processes with their ids from /proc.
func (c *container) processes(t *testing.T) []process {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(mustDocker(t, "top", c.name, "-eo", "pid,args")), "\n")
	var ps []process
	for _, line := range lines[1:] { // the first line is the header
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("docker top: unexpected line %q", line)
		}
		p := process{pid: pid, args: strings.Join(f[1:], " ")}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatalf("reading the status of %q: %v", p.args, err)
		}
		for _, l := range strings.Split(string(status), "\n") {
			k, v, _ := strings.Cut(l, ":")
			v = strings.Join(strings.Fields(v), " ")
			switch k {
			case "Uid":
				p.uid = v
			case "Gid":
				p.gid = v
			case "Groups":
				p.groups = v
			}
		}
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].pid < ps[j].pid })
	return ps
}

// commands returns the first word of each process's command line.
func commands(ps []process) []string {
	var names []string
	for _, p := range ps {
		names = append(names, strings.Fields(p.args)[0])
	}
	sort.Strings(names)
	return names
}

func docker(args ...string) (string, error) {
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := docker(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// output collects what a container writes and wakes waiters on every write.
type output struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	grew chan struct{} // closed and replaced by every write
}

func newOutput() *output { return &output{grew: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	close(o.grew)
	o.grew = make(chan struct{})
	return len(p), nil
}

// text returns everything written so far, decoded by logText.
func (o *output) text() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return logText(o.buf.Bytes())
}

func (o *output) waitFor(want string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		o.mu.Lock()
		found := strings.Contains(logText(o.buf.Bytes()), want)
		grew := o.grew
		o.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-grew:
		case <-exited:
			// The last writes may race the exit: look once more.
			if strings.Contains(o.text(), want) {
				return nil
			}
			return fmt.Errorf("exited before writing %q", want)
		case <-deadline:
			return fmt.Errorf("no %q after %s", want, timeout)
		}
	}
}

// logText makes tenant-init's structured logs searchable as text: a JSON line
// becomes its message followed by its other fields as key=value (strings
// unquoted, so `extension "vector" is not available` reads as written); other
// lines stay as they are. Carriage returns of a TTY are dropped.
func logText(raw []byte) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.ReplaceAll(string(raw), "\r", ""), "\n") {
		var fields map[string]any
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &fields) != nil {
			b.WriteString(line + "\n")
			continue
		}
		b.WriteString(fmt.Sprint(fields["msg"]))
		keys := make([]string, 0, len(fields))
		for k := range fields {
			if k != "msg" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if s, ok := fields[k].(string); ok {
				fmt.Fprintf(&b, " %s=%s", k, s)
			} else {
				v, _ := json.Marshal(fields[k])
				fmt.Fprintf(&b, " %s=%s", k, v)
			}
		}
		b.WriteString("\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// freePort returns a loopback TCP port nobody listens on now: the sidecar's,
// since containers share the host's network.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cutoverEnv is the environment of a tenant whose operator switched memory to
// the bundled sidecar, on its own port since containers share the host's network.
func cutoverEnv(databaseURL string, port int) []string {
	return []string{
		"MEMORY_V2_CUTOVER=true",
		"DATABASE_URL=" + databaseURL,
		fmt.Sprintf("MEMORY_PLUGIN_URL=http://127.0.0.1:%d", port),
		fmt.Sprintf("MEMORY_PLUGIN_LISTEN_ADDR=127.0.0.1:%d", port),
	}
}
