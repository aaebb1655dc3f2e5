package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/agentplatform/tenant-init/logging"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// process is one run of a service, from spawn until reapZombies collects its status.
type process struct {
	pid        int
	started    time.Time
	exited     chan struct{}      // closed by reapZombies
	status     syscall.WaitStatus // valid once exited is closed
	stderrDone <-chan struct{}    // sidecars: closed when their stderr reaches EOF
}

func (p *process) reaped() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// code is the status a shell would report: the exit status, or 128+n for signal n.
func (p *process) code() int {
	if p.status.Signaled() {
		return 128 + int(p.status.Signal())
	}
	return p.status.ExitStatus()
}

// describe says how the process ended, e.g. "exit status 1" or "killed by SIGKILL".
func (p *process) describe() string {
	if p.status.Signaled() {
		return "killed by " + signalName(p.status.Signal()) // names real-time signals too
	}
	return fmt.Sprintf("exit status %d", p.status.ExitStatus())
}

// prepareSpawn gathers what every spawn shares.
func (s *supervisor) prepareSpawn() error {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	s.devNull = devNull
	s.environ = os.Environ()
	// Only a terminal that is the init's controlling terminal can be handed to the
	// main service: TIOCGPGRP fails on any other.
	if term.IsTerminal(0) {
		if _, err := unix.IoctlGetInt(0, unix.TIOCGPGRP); err == nil {
			s.terminal = true
		}
	}
	return nil
}

// spawn starts a run of svc as the leader of its own process group, so that
// signals reach all its processes and none of the init's. It never waits:
// reapZombies owns every wait.
func (s *supervisor) spawn(svc *service) error {
	path, err := exec.LookPath(svc.Argv[0])
	if errors.Is(err, exec.ErrDot) {
		err = nil // a PATH containing "." is the image's choice
	}
	if err != nil {
		return err
	}
	if svc.Dir != "" {
		// Checked here: a failed chdir in the child would read as ENOENT, "not found".
		if fi, err := os.Stat(svc.Dir); err != nil {
			return notExecutable{fmt.Errorf("working directory: %w", err)}
		} else if !fi.IsDir() {
			return notExecutable{fmt.Errorf("working directory %s: not a directory", svc.Dir)}
		}
	}

	// The main service reads the init's stdin and, on a terminal, owns it, so
	// Ctrl-C reaches it; the others read nothing.
	foreground := svc == s.main && s.terminal
	files := []uintptr{s.devNull.Fd(), os.Stdout.Fd(), os.Stderr.Fd()}
	if svc == s.main {
		files[0] = os.Stdin.Fd()
	}
	var stderr *os.File
	if svc.Role == Sidecar {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		defer w.Close()
		stderr, files[2] = r, w.Fd()
	}
	attr := &syscall.ProcAttr{
		Dir:   svc.Dir,
		Env:   mergeEnv(s.environ, svc.Env, s.extraEnv(svc)),
		Files: files,
		Sys:   &syscall.SysProcAttr{Setpgid: true, Foreground: foreground, Ctty: 0},
	}

	var pid int
	withDefaultJobControl(s.sig.ignored, func() { pid, err = syscall.ForkExec(path, svc.Argv, attr) })
	if err != nil {
		if stderr != nil {
			stderr.Close()
		}
		return err
	}
	p := &process{pid: pid, started: time.Now(), exited: make(chan struct{})}
	if stderr != nil {
		p.stderrDone = svc.tail.follow(stderr, os.Stderr)
	}
	svc.proc = p
	s.byPID[pid] = svc
	s.log.Info("service started", logging.String("service", svc.Name), logging.Stringer("role", svc.Role),
		logging.Int("pid", pid), logging.Strings("argv", svc.Argv), logging.Bool("foreground", foreground))
	return nil
}

// extraEnv is what the supervisor adds for svc: a sidecar's gate entries, the
// sidecars' exports for a main service.
func (s *supervisor) extraEnv(svc *service) []string {
	if svc.Role == Sidecar {
		if svc.Gate != nil {
			return svc.Gate.Env()
		}
		return nil
	}
	var env []string
	for _, sc := range s.services {
		if sc.Role != Sidecar {
			continue
		}
		for _, kv := range sc.Exports {
			if sc.state == gaveUp {
				name, _, _ := strings.Cut(kv, "=")
				kv = name + "="
			}
			env = append(env, kv)
		}
	}
	return env
}

// mergeEnv concatenates NAME=value lists, a later entry replacing an earlier one
// of the same name: execve passes duplicates on and getenv would see the first.
func mergeEnv(lists ...[]string) []string {
	index := map[string]int{}
	var env []string
	for _, list := range lists {
		for _, kv := range list {
			name, _, _ := strings.Cut(kv, "=")
			if i, ok := index[name]; ok {
				env[i] = kv
				continue
			}
			index[name] = len(env)
			env = append(env, kv)
		}
	}
	return env
}

// spawnExitCode maps a failed spawn to a shell's status: 127 for a command that
// does not exist, 126 for one that cannot be executed.
func spawnExitCode(err error) int {
	if errors.As(err, new(notExecutable)) {
		return ExitNotExecutable
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return ExitNotFound
	}
	return ExitNotExecutable
}

// notExecutable marks a spawn failure that is not about the command's existence.
type notExecutable struct{ error }

func (e notExecutable) Unwrap() error { return e.error }
