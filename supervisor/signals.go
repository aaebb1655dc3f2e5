package supervisor

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// caughtSignals is every signal the init handles: SIGCHLD for reaping, and every
// catchable signal to forward except SIGURG (the Go runtime's preemption signal),
// the fault signals (a fault in the init is the init's own), signals 32 and 33
// (reserved for threads by the C library and the Go runtime), and SIGTTIN/SIGTTOU,
// which the init ignores so that it is never stopped writing to or waiting on a
// terminal it handed to the main service.
func caughtSignals() []os.Signal {
	var sigs []os.Signal
	for n := syscall.Signal(1); n <= 64; n++ {
		switch n {
		case syscall.SIGKILL, syscall.SIGSTOP, // uncatchable
			syscall.SIGURG,
			syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
			syscall.SIGABRT, syscall.SIGTRAP, syscall.SIGSYS,
			32, 33,
			syscall.SIGTTIN, syscall.SIGTTOU:
			continue
		}
		sigs = append(sigs, n)
	}
	return sigs
}

func (s *supervisor) catchSignals() {
	signal.Ignore(syscall.SIGTTIN, syscall.SIGTTOU)
	s.signals = make(chan os.Signal, 64)
	signal.Notify(s.signals, caughtSignals()...)
}

func (s *supervisor) releaseSignals() {
	signal.Stop(s.signals)
}

// handleSignal reaps on SIGCHLD, ends the container on the first SIGTERM or
// SIGINT, and forwards everything else.
func (s *supervisor) handleSignal(sig syscall.Signal) {
	switch {
	case sig == syscall.SIGCHLD:
		s.reapZombies()
	case (sig == syscall.SIGTERM || sig == syscall.SIGINT) && s.ending == nil:
		s.log.Info("signal received", zap.String("signal", unix.SignalName(sig)))
		s.end("received "+unix.SignalName(sig), 0, sig)
	default:
		s.forwardSignals(sig)
	}
}

// forwardSignals relays sig to the process group of every running service.
func (s *supervisor) forwardSignals(sig syscall.Signal) {
	for _, svc := range s.services {
		if !svc.running() {
			continue
		}
		pgid := svc.proc.pid
		if err := unix.Kill(-pgid, sig); err != nil {
			s.log.Warn("signal not forwarded: "+err.Error(), zap.String("signal", signalName(sig)),
				zap.String("service", svc.Name), zap.Int("pgid", pgid))
			continue
		}
		s.log.Info("signal forwarded", zap.String("signal", signalName(sig)),
			zap.String("service", svc.Name), zap.Int("pgid", pgid))
	}
}

// signalName names real-time signals too, which unix.SignalName does not.
func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return fmt.Sprintf("SIGRTMIN+%d", int(sig)-34)
}

// jobControl receives SIGTTIN/SIGTTOU while withDefaultJobControl catches them;
// nobody reads it, a full channel drops them.
var jobControl = make(chan os.Signal, 1)

// withDefaultJobControl runs spawn with SIGTTIN/SIGTTOU caught instead of
// ignored. An ignored signal stays ignored across execve, so every service would
// inherit the init's indifference to job control (tini restores it in the child
// between fork and exec; Go has no such hook). A caught signal is reset to its
// default by execve. The child hands itself the terminal with every signal
// blocked, so SIGTTOU does not stop it there.
func withDefaultJobControl(spawn func()) {
	signal.Notify(jobControl, syscall.SIGTTIN, syscall.SIGTTOU)
	defer signal.Ignore(syscall.SIGTTIN, syscall.SIGTTOU)
	spawn()
}
