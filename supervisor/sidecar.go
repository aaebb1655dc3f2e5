package supervisor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/agentplatform/tenant-init/logging"
	"github.com/cenkalti/backoff/v4"
)

// gateResult is what a gate said about one run of a sidecar.
type gateResult struct {
	svc     *service
	proc    *process
	how     string
	err     error
	readyAt time.Time
}

// startSidecar spawns svc at boot and handles events until its gate has spoken.
func (s *supervisor) startSidecar(svc *service) {
	if !s.spawnSidecar(svc) {
		return
	}
	s.awaitGate(svc)
	for svc.state == gating && s.ending == nil {
		s.step(nil, true)
	}
}

// awaitGate asks svc's gate about its latest run, in the background: the answer
// comes back through s.gates while signals and exits keep being handled.
func (s *supervisor) awaitGate(svc *service) {
	if svc.Gate == nil {
		svc.state = up
		return
	}
	svc.state = gating
	p, gate := svc.proc, svc.Gate
	ctx, cancel := context.WithTimeout(s.ctx, svc.GateTimeout)
	svc.stopGate = cancel
	go func() {
		how, err := gate.Wait(ctx, p.exited)
		s.gates <- gateResult{svc: svc, proc: p, how: how, err: err, readyAt: time.Now()}
	}()
}

// gateFinished judges a gate's answer. A sidecar that died meanwhile failed,
// whatever the gate said.
func (s *supervisor) gateFinished(r gateResult) {
	svc := r.svc
	if r.proc != svc.proc || svc.state != gating || s.ending != nil {
		return // about a run already judged
	}
	svc.stopGate()
	switch {
	case r.proc.reaped():
		s.sidecarFailed(svc, r.proc.describe())
	case errors.Is(r.err, context.DeadlineExceeded):
		s.sidecarFailed(svc, "still not ready after "+svc.GateTimeout.String())
	case r.err != nil:
		s.sidecarFailed(svc, "gate: "+r.err.Error())
	default:
		svc.state = up
		how := r.how
		if how == "" {
			how = "gate"
		}
		s.log.Info(svc.Name+": sidecar healthy", logging.String("service", svc.Name),
			logging.Int64("ms", r.readyAt.Sub(r.proc.started).Milliseconds()), logging.String("how", how),
			logging.Int("restarts", svc.restarts))
	}
}

// sidecarDied handles the death of a sidecar that was up.
func (s *supervisor) sidecarDied(svc *service) {
	if time.Since(svc.proc.started) >= svc.Restart.StableAfter {
		svc.backoff.Reset() // a long healthy run ends the crash loop
	}
	s.sidecarFailed(svc, svc.proc.describe())
}

// sidecarFailed handles a sidecar that died, missed its gate or could not start.
// At boot its FailurePolicy applies at once; after boot it is restarted, gated
// again, with exponential backoff until the crash-loop limit.
func (s *supervisor) sidecarFailed(svc *service, reason string) {
	if svc.running() {
		svc.state = stopping
		s.stop("failed sidecar", []*service{svc}, syscall.SIGTERM)
	}
	if s.ending != nil && s.booted {
		return // the container ended meanwhile: no restart, no verdict
	}
	if !s.booted {
		s.giveUp(svc, reason)
		return
	}
	delay := svc.backoff.NextBackOff()
	if delay == backoff.Stop {
		s.giveUp(svc, fmt.Sprintf("%s; gave up after %s in a row", reason, plural(svc.Restart.Limit, "restart")))
		return
	}
	svc.state = down
	s.log.Warn(svc.Name+": sidecar failed: "+reason+"; restarting", logging.String("service", svc.Name),
		logging.Duration("delay", delay), logging.Int("restart", svc.restarts+1), logging.Int("limit", svc.Restart.Limit))
	time.AfterFunc(delay, func() { s.restarts <- svc })
}

// restartSidecar starts the next run of a sidecar whose restart is due.
func (s *supervisor) restartSidecar(svc *service) {
	if s.ending != nil || svc.state != down {
		return
	}
	svc.restarts++
	if !s.spawnSidecar(svc) {
		return
	}
	s.awaitGate(svc)
}

// spawnSidecar runs svc's Precheck and spawns it, and reports whether it runs;
// when not, the failure has been handed to svc's policy.
func (s *supervisor) spawnSidecar(svc *service) bool {
	if svc.Precheck != nil {
		if err := svc.Precheck(); err != nil {
			s.sidecarFailed(svc, "not started: "+err.Error())
			return false
		}
	}
	if err := s.spawn(svc); err != nil {
		s.sidecarFailed(svc, "cannot start: "+err.Error())
		return false
	}
	return true
}

// giveUp applies svc's FailurePolicy: one line that says what happened and why
// (its status or timeout, the end of its stderr, a hint), then abort or degrade.
func (s *supervisor) giveUp(svc *service, reason string) {
	svc.state = gaveUp
	fields := []logging.Field{logging.String("service", svc.Name), logging.Strings("stderr_tail", s.stderrTail(svc))}
	if svc.Hint != "" {
		fields = append(fields, logging.String("hint", svc.Hint))
	}
	if svc.OnFailure == Abort {
		s.log.Error(svc.Name+": sidecar failed: "+reason, fields...)
		s.end(svc.Name+" failed", ExitUnavailable, 0)
		return
	}
	consequence := "main services keep running without it"
	if !s.booted {
		consequence = "main services start without it"
		var emptied []string
		for _, kv := range svc.Exports {
			name, _, _ := strings.Cut(kv, "=")
			emptied = append(emptied, name)
		}
		fields = append(fields, logging.Strings("emptied", emptied))
	}
	if svc.Lost != "" {
		consequence += ": " + svc.Lost
	}
	s.log.Warn(fmt.Sprintf("%s: sidecar failed: %s; degraded: %s", svc.Name, reason, consequence), fields...)
}

// stderrTail returns the last lines of svc's stderr once its latest run's output
// is drained. The wait is bounded: a grandchild may hold the pipe open.
func (s *supervisor) stderrTail(svc *service) []string {
	if p := svc.proc; p != nil && p.stderrDone != nil {
		t := time.NewTimer(time.Second)
		defer t.Stop()
		select {
		case <-p.stderrDone:
		case <-t.C:
		}
	}
	return svc.tail.last()
}

// plural is "1 restart", "2 restarts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
