// Package healthgate tells when a freshly started HTTP sidecar is ready to
// serve, so that the services that depend on it start neither too early nor
// a second too late (docs/tenant-init.md, section "The gate"; why: docs/boot.md).
//
// A Gate sees readiness two ways:
//
//   - It polls GET <base>/v1/health until the answer is 200: every 10 ms for
//     the first 200 probes (about 2 s, when a sidecar is most likely to turn
//     ready), then 1.5 times longer each time up to 250 ms, each probe bounded
//     to 1 s, until the gate timeout. Polling stops at the first 200.
//   - It gives the sidecar systemd's NOTIFY_SOCKET. A datagram with a line
//     READY=1 passes the gate at once, after ONE confirming probe; a sidecar
//     that never notifies is gated by polling alone.
//
// The notify socket is abstract (@tenant-init-notify-<pid>-<n>): it needs no
// writable directory (a scratch image has no /tmp, and after the privilege
// drop tenant-init may not write to /run), leaves no file behind after a
// crash, and vanishes with the socket. Any process in the container's network
// namespace may send to it; that is harmless because READY=1 only triggers a
// probe, it never passes the gate by itself. The sender's credentials
// (SO_PASSCRED) serve another purpose: telling a READY=1 left over from an
// earlier, dead run of the sidecar from one the current run sent before Wait
// began.
//
// Gate implements the supervisor's Gate interface without importing it.
package healthgate

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Default probe schedule.
const (
	// DefaultFirstInterval is the interval of the first DefaultSteadyProbes
	// probes: readiness is noticed within it, about half of it on average.
	DefaultFirstInterval = 10 * time.Millisecond
	DefaultSteadyProbes  = 200
	DefaultMaxInterval   = 250 * time.Millisecond
	DefaultProbeTimeout  = time.Second
)

var (
	// ErrExited is the error of a Wait whose sidecar died; the supervisor adds
	// the exit status and the tail of its stderr.
	ErrExited = errors.New("sidecar exited before becoming ready")
	// ErrNotReady is the error of a Wait that reached the gate timeout.
	ErrNotReady = errors.New("still not ready")
	// ErrClosed is the error of a Wait on a closed Gate.
	ErrClosed = errors.New("healthgate: gate is closed")
)

// A Gate waits for one sidecar, across all its restarts. One Wait at a time.
type Gate struct {
	health       string // <base>/v1/health
	timeout      time.Duration
	probeTimeout time.Duration
	schedule     func() backoff.BackOff
	target       target // where probes go, and the request they send
	notify       *notifySocket

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool

	mu     sync.Mutex
	status string // the sidecar's last STATUS= during the current Wait
}

// An Option changes a Gate's defaults.
type Option func(*Gate)

// WithProbeTimeout bounds each health probe (default 1 s).
func WithProbeTimeout(d time.Duration) Option { return func(g *Gate) { g.probeTimeout = d } }

// WithSchedule replaces the probe schedule; newBackOff is called at every
// Wait, and backoff.Stop from it ends polling (notify still works).
func WithSchedule(newBackOff func() backoff.BackOff) Option {
	return func(g *Gate) { g.schedule = newBackOff }
}

// DefaultSchedule is the probe schedule of a Gate: a probe every 10 ms for the
// first 200 (about 2 s), then 1.5 times longer each time up to 250 ms, without
// jitter (one prober per sidecar, no herd to spread).
//
// Why a steady 10 ms at first: a sidecar usually turns ready within a second
// or two of its start, and an exponential schedule notices that late by up to
// its current interval (median 26.5 ms end to end at 10 ms growing to 250 ms).
// At 10 ms the gate notices within 10 ms. The price is small: while nothing
// listens (the memory plugin listens only once migrated) a probe is a refused
// loopback connect that the sidecar never sees, and a sidecar that answers but
// is not ready gets at most 100 requests a second for 2 s; after that the
// interval grows as before, and polling stops at the first 200.
func DefaultSchedule() backoff.BackOff {
	return &steadyThenBackOff{
		interval: DefaultFirstInterval,
		steady:   DefaultSteadyProbes,
		then: backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(DefaultFirstInterval),
			backoff.WithMaxInterval(DefaultMaxInterval),
			backoff.WithRandomizationFactor(0),
			backoff.WithMaxElapsedTime(0),
		),
	}
}

// steadyThenBackOff gives interval steady times, then what then gives.
type steadyThenBackOff struct {
	interval time.Duration
	steady   int
	given    int
	then     backoff.BackOff
}

func (b *steadyThenBackOff) NextBackOff() time.Duration {
	if b.given < b.steady {
		b.given++
		return b.interval
	}
	return b.then.NextBackOff()
}

func (b *steadyThenBackOff) Reset() {
	b.given = 0
	b.then.Reset()
}

// New returns a Gate for the sidecar serving baseURL (such as
// http://127.0.0.1:9100) that waits at most timeout per start. It opens the
// notify socket; Close releases it.
func New(baseURL string, timeout time.Duration, opts ...Option) (*Gate, error) {
	u, err := url.Parse(baseURL)
	// http only: the gate probes a sidecar on loopback, and its probe speaks
	// plain HTTP/1.1 (probe.go says why).
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("healthgate: base URL %q: want http://host:port", baseURL)
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("healthgate: timeout %s: want a positive duration", timeout)
	}
	g := &Gate{
		health:       strings.TrimSuffix(baseURL, "/") + "/v1/health",
		timeout:      timeout,
		probeTimeout: DefaultProbeTimeout,
		schedule:     DefaultSchedule,
	}
	// A fresh connection per probe: a restarted sidecar is a new server, and
	// no proxy stands between tenant-init and its sidecar.
	if g.target, err = newTarget(g.health); err != nil {
		return nil, fmt.Errorf("healthgate: base URL %q: %w", baseURL, err)
	}
	for _, o := range opts {
		o(g)
	}
	if g.notify, err = listenNotify(); err != nil {
		return nil, err
	}
	return g, nil
}

// Env returns NOTIFY_SOCKET for the sidecar's environment.
func (g *Gate) Env() []string { return []string{"NOTIFY_SOCKET=" + g.notify.name} }

// Close releases the notify socket; a later Wait fails with ErrClosed.
func (g *Gate) Close() error {
	g.closeOnce.Do(func() {
		g.closed.Store(true)
		g.closeErr = g.notify.close()
	})
	return g.closeErr
}

// AddressFree tells whether addr (host:port) can be listened on, by binding it
// for a moment. A probe cannot tell who answers it: were the sidecar's address
// already served by another process (an earlier plugin, another service), the
// gate would pass on that process's health while the new sidecar fails to bind.
// So the address must be free before the sidecar is spawned.
func AddressFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s is already in use by another process, whose answers the health probe would mistake for the sidecar's: %w", addr, err)
	}
	return l.Close()
}
