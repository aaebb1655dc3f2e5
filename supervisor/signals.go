package supervisor

import (
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/agentplatform/tenant-init/logging"
	"golang.org/x/sys/unix"
)

// signalPaths are the channels signals reach the supervisor by, one per kind,
// so that a burst of one kind cannot crowd out another: os/signal drops a
// signal whose channel is full.
type signalPaths struct {
	// reap holds one pending "reap now": SIGCHLD is level-triggered, since
	// reapZombies waits for every exited child, so one slot loses nothing.
	reap chan os.Signal
	// terminate carries SIGTERM and SIGINT; nothing else competes for it.
	terminate chan os.Signal
	// forward carries the signals to relay, and the fault signals to refuse.
	forward chan os.Signal
	// ignored are the signals the init was started ignoring: neither caught
	// nor forwarded, so that the services inherit them ignored.
	ignored []syscall.Signal
}

// faultSignals are the signals the kernel sends a process for its own faults.
// Sent by another process (kill, tkill: SI_USER, SI_TKILL), they are caught,
// logged and not forwarded; without a handler Go's runtime would crash the init
// on them. A real fault of the init is kernel-generated, and the runtime still
// panics or throws on it whatever os/signal asks.
var faultSignals = []syscall.Signal{
	syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
	syscall.SIGABRT, syscall.SIGTRAP, syscall.SIGSYS,
}

func isFault(sig syscall.Signal) bool { return slices.Contains(faultSignals, sig) }

// forwardedSignals is every signal the init relays: every catchable one except
// SIGCHLD, SIGTERM and SIGINT (handled), the fault signals (refused), SIGURG (the
// Go runtime's preemption signal), SIGPROF (the runtime's profiler consumes it
// before os/signal could see it, so catching it would only pretend to forward
// it), signals 32 and 33 (reserved for threads by the C library and the Go
// runtime), and SIGTTIN/SIGTTOU, which the init ignores so that it is never
// stopped writing to or waiting on a terminal it handed to the main service.
func forwardedSignals() []syscall.Signal {
	var sigs []syscall.Signal
	for n := syscall.Signal(1); n <= 64; n++ {
		switch {
		case n == syscall.SIGKILL, n == syscall.SIGSTOP, // uncatchable
			n == syscall.SIGCHLD, n == syscall.SIGTERM, n == syscall.SIGINT,
			isFault(n),
			n == syscall.SIGURG, n == syscall.SIGPROF,
			n == 32, n == 33,
			n == syscall.SIGTTIN, n == syscall.SIGTTOU:
			continue
		}
		sigs = append(sigs, n)
	}
	return sigs
}

// catchSignals sets the signal paths up. It must run before anything else
// touches signals: what was ignored at start-up is read first.
func (s *supervisor) catchSignals() {
	inherited := ignoredAtStart()
	p := &s.sig
	p.reap = make(chan os.Signal, 1)
	p.terminate = make(chan os.Signal, 2)
	p.forward = make(chan os.Signal, 64)
	notify := func(c chan os.Signal, sigs ...syscall.Signal) {
		for _, sig := range sigs {
			if inherited[sig] {
				p.ignored = append(p.ignored, sig)
				continue
			}
			signal.Notify(c, sig)
		}
	}
	// Already ignored, or ignored from now on, SIGTTIN/SIGTTOU need no notice.
	signal.Ignore(syscall.SIGTTIN, syscall.SIGTTOU)
	for _, sig := range []syscall.Signal{syscall.SIGTTIN, syscall.SIGTTOU} {
		if inherited[sig] {
			p.ignored = append(p.ignored, sig)
		}
	}
	signal.Notify(p.reap, syscall.SIGCHLD)
	notify(p.terminate, syscall.SIGTERM, syscall.SIGINT)
	notify(p.forward, forwardedSignals()...)
	notify(p.forward, faultSignals...)
	if len(p.ignored) > 0 {
		slices.Sort(p.ignored)
		names := make([]string, len(p.ignored))
		for i, sig := range p.ignored {
			names[i] = signalName(sig)
		}
		s.log.Info("signals ignored since start-up: kept ignored, not forwarded", logging.Strings("signals", names))
	}
}

// handleSignal ends the container on the first SIGTERM or SIGINT, refuses
// fault signals, and forwards everything else (a later SIGTERM or SIGINT too).
// SIGCHLD does not come here: it only means "reap now".
func (s *supervisor) handleSignal(sig syscall.Signal) {
	switch {
	case (sig == syscall.SIGTERM || sig == syscall.SIGINT) && s.ending == nil:
		s.log.Info("signal received", logging.String("signal", unix.SignalName(sig)))
		s.end("received "+unix.SignalName(sig), 0, sig)
	case isFault(sig):
		s.log.Warn("fault signal sent to the init: ignored", logging.String("signal", signalName(sig)),
			logging.String("hint", "another process sent it (kill, tkill); a fault of the init's own would have crashed it"))
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
			s.log.Warn("signal not forwarded: "+err.Error(), logging.String("signal", signalName(sig)),
				logging.String("service", svc.Name), logging.Int("pgid", pgid))
			continue
		}
		s.log.Info("signal forwarded", logging.String("signal", signalName(sig)),
			logging.String("service", svc.Name), logging.Int("pgid", pgid))
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
// ignored, except those in keep (ignored when the init started: the services
// inherit them ignored). An ignored signal stays ignored across execve, so every
// service would inherit the init's indifference to job control (tini restores it
// in the child between fork and exec; Go has no such hook). A caught signal is
// reset to its default by execve. The child hands itself the terminal with
// every signal blocked, so SIGTTOU does not stop it there.
func withDefaultJobControl(keep []syscall.Signal, spawn func()) {
	var restore []os.Signal
	for _, sig := range []syscall.Signal{syscall.SIGTTIN, syscall.SIGTTOU} {
		if !slices.Contains(keep, sig) {
			restore = append(restore, sig)
		}
	}
	if len(restore) > 0 {
		signal.Notify(jobControl, restore...)
		defer signal.Ignore(restore...)
	}
	spawn()
}
