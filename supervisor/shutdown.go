package supervisor

import (
	"syscall"
	"time"

	"github.com/agentplatform/tenant-init/logging"
	"golang.org/x/sys/unix"
)

// killWait bounds the wait for SIGKILLed processes to be reaped; only a process
// stuck in the kernel (uninterruptible sleep) outlasts it.
const killWait = 2 * time.Second

// shutdown stops the main services first (they may still need their sidecars to
// finish cleanly), then the sidecars, then, as PID 1, every process left in the
// namespace, each phase with SIGTERM and a grace period before SIGKILL.
func (s *supervisor) shutdown() {
	s.cancel() // gates in flight give up
	s.log.Info("shutting down", logging.String("reason", s.ending.reason), logging.Duration("grace", s.grace))
	mainSignal := syscall.SIGTERM
	if s.ending.signal != 0 {
		mainSignal = s.ending.signal // SIGINT stays SIGINT: the main service may treat it as Ctrl-C
	}
	var mains, sidecars []*service
	for _, svc := range s.services {
		if svc.Role == Main {
			mains = append(mains, svc)
		} else {
			sidecars = append(sidecars, svc)
		}
	}
	s.stop("main services", mains, mainSignal)
	s.stop("sidecars", sidecars, syscall.SIGTERM)
	if s.pid1 {
		s.stopOrphans()
	}
}

// stop sends sig to the process group of each of svcs, waits up to the grace for
// those groups to empty, then SIGKILLs whatever is left of them.
func (s *supervisor) stop(phase string, svcs []*service, sig syscall.Signal) {
	var signalled []string
	for _, svc := range svcs {
		// A group whose leader has exited may still have members.
		if svc.proc != nil && unix.Kill(-svc.proc.pid, sig) == nil {
			signalled = append(signalled, svc.Name)
		}
	}
	if len(signalled) == 0 {
		return
	}
	s.log.Info("stopping", logging.String("phase", phase), logging.String("signal", signalName(sig)), logging.Strings("services", signalled))

	grace := time.NewTimer(s.grace)
	defer grace.Stop()
	for anyGroupAlive(svcs) && s.step(grace.C, false) {
	}
	for _, svc := range svcs {
		if svc.proc != nil && unix.Kill(-svc.proc.pid, syscall.SIGKILL) == nil {
			s.log.Warn("grace expired: killed", logging.String("phase", phase), logging.String("service", svc.Name),
				logging.Int("pgid", svc.proc.pid), logging.Bool("leader_running", svc.running()))
		}
	}
	bound := time.NewTimer(killWait)
	defer bound.Stop()
	for anyRunning(svcs) && s.step(bound.C, false) {
	}
	for _, svc := range svcs {
		if svc.running() {
			s.log.Error("not reaped after SIGKILL", logging.String("service", svc.Name), logging.Int("pid", svc.proc.pid))
		}
	}
}

// anyGroupAlive says whether a process of any of svcs' groups is left. Only
// events wake the caller to ask again: the death of a member that is not our
// child goes unnoticed until the next event or the grace's end.
func anyGroupAlive(svcs []*service) bool {
	for _, svc := range svcs {
		if svc.running() || (svc.proc != nil && unix.Kill(-svc.proc.pid, 0) == nil) {
			return true
		}
	}
	return false
}

func anyRunning(svcs []*service) bool {
	for _, svc := range svcs {
		if svc.running() {
			return true
		}
	}
	return false
}

// stopOrphans, as PID 1, warns every process still in the namespace with
// SIGTERM, waits up to the grace for them to be gone, then SIGKILLs them: when
// PID 1 exits the kernel kills them without warning.
func (s *supervisor) stopOrphans() {
	s.reapZombies()
	if !s.childrenLeft {
		return
	}
	s.log.Info("stopping", logging.String("phase", "remaining processes"), logging.String("signal", "SIGTERM"))
	unix.Kill(-1, syscall.SIGTERM)
	grace := time.NewTimer(s.grace)
	defer grace.Stop()
	for s.childrenLeft && s.step(grace.C, false) {
	}
	if !s.childrenLeft {
		return
	}
	s.log.Warn("grace expired: killed", logging.String("phase", "remaining processes"))
	unix.Kill(-1, syscall.SIGKILL)
	bound := time.NewTimer(killWait)
	defer bound.Stop()
	for s.childrenLeft && s.step(bound.C, false) {
	}
}
