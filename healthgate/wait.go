package healthgate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Wait blocks until the sidecar is ready and says how that was seen:
// "notify" (READY=1, confirmed by a probe) or "probe" (polling). It fails with
// ErrExited as soon as exited is closed, with ErrNotReady (carrying the last
// probe's error and the sidecar's last STATUS=) at the gate timeout, counted
// from the call, and with ctx's error when ctx ends first.
func (g *Gate) Wait(ctx context.Context, exited <-chan struct{}) (how string, err error) {
	if g.closed.Load() {
		return "", ErrClosed
	}
	ready := make(chan struct{}, 1)
	fresh, status, err := g.notify.drain()
	if err != nil {
		return "", fmt.Errorf("healthgate: draining the notify socket: %w", err)
	}
	g.setStatus(status)
	if fresh {
		ready <- struct{}{}
	}
	stop := g.notify.listen(func(m message) {
		if m.status != "" {
			g.setStatus(m.status)
		}
		if m.ready {
			select {
			case ready <- struct{}{}:
			default:
			}
		}
	})
	defer stop()

	waitCtx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	// A probe in flight must not hold the gate once the sidecar is gone.
	go func() {
		select {
		case <-exited:
			cancel()
		case <-waitCtx.Done():
		}
	}()

	schedule := g.schedule()
	next := time.NewTimer(0)
	next.Stop() // armed by plan, or never if the schedule stops at once
	defer next.Stop()
	g.plan(next, schedule)
	var last error = errors.New("no probe has finished")
	for {
		var how string
		select {
		case <-exited:
			return "", ErrExited
		case <-waitCtx.Done():
			return "", g.failure(ctx, exited, last)
		case <-ready:
			how = "notify"
		case <-next.C:
			how = "probe"
			g.plan(next, schedule)
		}
		err := g.probe(waitCtx)
		if isClosed(exited) {
			// Whatever answered, it was not this sidecar, or not for long.
			return "", ErrExited
		}
		if err == nil {
			return how, nil
		}
		if !ended(waitCtx) { // not cut short by the gate's own end
			last = err
			if how == "notify" {
				last = fmt.Errorf("READY=1 received but the confirming probe failed: %w", err)
			}
		}
	}
}

// plan arms next for the schedule's next probe, or never after backoff.Stop.
func (g *Gate) plan(next *time.Timer, schedule backoff.BackOff) {
	if d := schedule.NextBackOff(); d != backoff.Stop {
		next.Reset(d)
	}
}

func (g *Gate) failure(ctx context.Context, exited <-chan struct{}, last error) error {
	switch {
	case isClosed(exited):
		return ErrExited
	case ctx.Err() != nil:
		return fmt.Errorf("healthgate: gave up waiting: %w", ctx.Err())
	}
	err := fmt.Errorf("%w after %s; last probe: %v", ErrNotReady, g.timeout, last)
	if s := g.lastStatus(); s != "" {
		err = fmt.Errorf("%w; sidecar status: %s", err, s)
	}
	return err
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// probe asks the sidecar's health endpoint once; nil means 200. Redirects
// are not followed: a 3xx is not ready.
func (g *Gate) probe(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, g.probeTimeout)
	defer cancel()
	code, status, excerpt, err := g.target.get(pctx)
	if err != nil {
		if !ended(ctx) && errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("GET %s: no answer within %s", g.health, g.probeTimeout)
		}
		return err
	}
	if code == 200 {
		return nil
	}
	return fmt.Errorf("GET %s: %s: %s", g.health, status, strings.Join(strings.Fields(string(excerpt)), " "))
}

func (g *Gate) setStatus(s string) {
	g.mu.Lock()
	g.status = s
	g.mu.Unlock()
}

func (g *Gate) lastStatus() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.status
}
