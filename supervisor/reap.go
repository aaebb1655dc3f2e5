package supervisor

import (
	"os"
	"syscall"
	"time"

	"github.com/agentplatform/tenant-init/logging"
	"golang.org/x/sys/unix"
)

// becomeReaper makes orphans ours to reap: as PID 1 they are already; otherwise
// the kernel gives them to the nearest child subreaper, which we become.
func (s *supervisor) becomeReaper() error {
	if os.Getpid() == 1 {
		s.pid1 = true
		s.log.Info("running as PID 1")
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err)
	}
	s.log.Info("became child subreaper", logging.Int("pid", os.Getpid()))
	return nil
}

// reapZombies collects every exited child, on SIGCHLD. It is the one owner of
// every wait: each status goes to the service whose pid it is, the others are
// orphans reparented to us and only counted. Spawning happens on the same
// goroutine, so this wait4(-1) never races ForkExec's own wait for a child
// that failed to exec.
func (s *supervisor) reapZombies() {
	orphans := 0
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil { // ECHILD: no children at all
			s.childrenLeft = false
			break
		}
		if pid == 0 { // children remain, none exited
			s.childrenLeft = true
			break
		}
		if svc, ok := s.byPID[pid]; ok {
			delete(s.byPID, pid)
			s.serviceExited(svc, status)
			continue
		}
		orphans++
	}
	if orphans > 0 {
		s.orphans += orphans
		s.log.Info("orphans reaped", logging.Int("count", orphans), logging.Int("total", s.orphans))
	}
}

// serviceExited records the end of svc's latest run and decides what it means:
// a main service's exit ends the container, a sidecar's starts its restart.
func (s *supervisor) serviceExited(svc *service, status syscall.WaitStatus) {
	p := svc.proc
	p.status = status
	close(p.exited)
	s.log.Info("service exited", logging.String("service", svc.Name), logging.Stringer("role", svc.Role),
		logging.Int("pid", p.pid), logging.String("status", p.describe()), logging.Int("code", p.code()),
		logging.Duration("run_time", time.Since(p.started)))
	switch {
	case s.ending != nil:
	case svc.Role == Main:
		s.end(svc.Name+" exited", p.code(), 0)
	case svc.state == up:
		s.sidecarDied(svc)
	}
}
