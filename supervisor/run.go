package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/agentplatform/tenant-init/logging"
)

// supervisor is the state of one Run. Everything here is owned by the goroutine
// that called Run: signals, finished gates and due restarts come to it over
// channels, so no lock guards the services.
type supervisor struct {
	log      *logging.Logger
	grace    time.Duration
	user     User
	root     bool // AllowRoot
	services []*service
	main     *service // the first Main service
	byPID    map[int]*service

	sig      signalPaths
	gates    chan gateResult // buffered: one gate at a time per sidecar
	restarts chan *service   // buffered: one pending restart per sidecar
	ctx      context.Context // ends at shutdown, ending gates in flight
	cancel   context.CancelFunc

	pid1         bool
	terminal     bool // stdin is the init's controlling terminal
	devNull      *os.File
	environ      []string
	booted       bool
	orphans      int  // orphans reaped so far
	childrenLeft bool // the last reap found children still running
	ending       *ending
}

// ending records why the container ends, which decides the exit status.
type ending struct {
	reason string
	code   int
	signal syscall.Signal // SIGTERM/SIGINT that asked for the end: the main service's status decides
}

func newSupervisor(cfg Config) (*supervisor, int) {
	s := &supervisor{
		log:   cfg.Log,
		grace: cfg.Grace,
		user:  cfg.User,
		root:  cfg.AllowRoot,
		byPID: map[int]*service{},
	}
	if s.grace <= 0 {
		s.grace = DefaultGrace
	}
	if err := s.declare(cfg.Services); err != nil {
		s.log.Error("invalid service declarations: " + err.Error())
		return nil, ExitUsage
	}
	s.gates = make(chan gateResult, len(s.services))
	s.restarts = make(chan *service, len(s.services))
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, 0
}

// declare checks the declarations once, so that nothing later has to.
func (s *supervisor) declare(decls []Service) error {
	names := map[string]bool{}
	for _, d := range decls {
		switch {
		case d.Name == "":
			return errors.New("a service has no name")
		case names[d.Name]:
			return fmt.Errorf("two services are named %q", d.Name)
		case len(d.Argv) == 0 || d.Argv[0] == "":
			return fmt.Errorf("service %q has no command", d.Name)
		case d.Role != Main && d.Role != Sidecar:
			return fmt.Errorf("service %q has an unknown role %d", d.Name, d.Role)
		}
		names[d.Name] = true
		svc := newService(d)
		s.services = append(s.services, svc)
		if d.Role == Main && s.main == nil {
			s.main = svc
		}
	}
	if s.main == nil {
		return errors.New("no main service")
	}
	return nil
}

// run is the life of the container; see the package documentation.
func (s *supervisor) run() int {
	defer s.cancel()
	// Signals stay caught until the process exits: released, a SIGHUP between
	// the last reap and the exit would kill the init and replace the status.
	s.catchSignals()
	if err := s.becomeReaper(); err != nil {
		s.log.Error("cannot reap orphans: "+err.Error(), logging.String("hint", "tenant-init must run as PID 1 or be allowed prctl(PR_SET_CHILD_SUBREAPER)"))
		return ExitOSError
	}
	if code := s.dropPrivileges(); code != 0 {
		return code
	}
	if err := s.prepareSpawn(); err != nil {
		s.log.Error("cannot prepare to start services: " + err.Error())
		return ExitOSError
	}
	s.boot()
	for s.ending == nil {
		s.step(nil, true)
	}
	s.shutdown()
	code := s.exitCode()
	s.log.Info("exiting", logging.Int("code", code), logging.String("reason", s.ending.reason), logging.Int("orphans_reaped", s.orphans))
	return code
}

// boot starts the sidecars one by one, each past its gate, then the main services.
func (s *supervisor) boot() {
	for _, svc := range s.services {
		if svc.Role == Sidecar && s.ending == nil {
			s.startSidecar(svc)
		}
	}
	for _, svc := range s.services {
		if svc.Role != Main || s.ending != nil {
			continue
		}
		if err := s.spawn(svc); err != nil {
			s.log.Error(fmt.Sprintf("%s: cannot start: %v", svc.Name, err), logging.String("service", svc.Name), logging.Strings("argv", svc.Argv))
			s.end(svc.Name+" cannot start", spawnExitCode(err), 0)
		}
	}
	s.booted = true
}

// end records the first reason the container ends; later ones are consequences.
func (s *supervisor) end(reason string, code int, sig syscall.Signal) {
	if s.ending == nil {
		s.ending = &ending{reason: reason, code: code, signal: sig}
	}
}

// step handles one event, or returns false if deadline passed first. Finished
// gates and due restarts are left queued unless sidecarEvents is set: stopping a
// service must not start or judge another one halfway.
func (s *supervisor) step(deadline <-chan time.Time, sidecarEvents bool) bool {
	var gates <-chan gateResult
	var restarts <-chan *service
	if sidecarEvents {
		gates, restarts = s.gates, s.restarts
	}
	select {
	case <-s.sig.reap:
		s.reapZombies()
	case sig := <-s.sig.terminate:
		s.handleSignal(sig.(syscall.Signal))
	case sig := <-s.sig.forward:
		s.handleSignal(sig.(syscall.Signal))
	case r := <-gates:
		s.gateFinished(r)
	case svc := <-restarts:
		s.restartSidecar(svc)
	case <-deadline:
		return false
	}
	return true
}

// exitCode is the status of the service whose exit ended the container, the main
// service's when a signal ended it, or the init's own failure code.
func (s *supervisor) exitCode() int {
	e := s.ending
	if e.signal == 0 {
		return e.code
	}
	if p := s.main.proc; p != nil && p.reaped() {
		return p.code()
	}
	return 128 + int(e.signal)
}
