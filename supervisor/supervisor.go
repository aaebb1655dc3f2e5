// Package supervisor is tenant-init's process supervisor: the duties of PID 1 (reap
// every zombie, forward signals, stop everything in order with a grace period, drop
// privileges) and a service model in which sidecars start first, are gated on
// readiness, and are restarted when they die, beside the main services.
//
// The life of a container under Run:
//
//  1. become PID 1's stand-in (a child subreaper) unless already PID 1;
//  2. drop privileges to the configured user, or refuse to run services as root;
//  3. start each sidecar and wait for its Gate; on failure abort or degrade;
//  4. start the main services, the first of them in the terminal's foreground;
//  5. forward signals, reap orphans, restart sidecars that die;
//  6. when a main service exits or SIGTERM/SIGINT arrives, stop the main services,
//     then the sidecars, then (as PID 1) every process left in the namespace.
package supervisor

import (
	"context"
	"time"

	"github.com/agentplatform/tenant-init/logging"
)

// Exit statuses of the init's own failures (sysexits.h) and of a COMMAND that cannot
// start (as a shell reports them). Any other status is the main service's own, or
// 128+n when it died of signal n.
const (
	ExitUsage         = 64  // EX_USAGE: bad flag or declaration, no COMMAND
	ExitUnavailable   = 69  // EX_UNAVAILABLE: a sidecar failed under the abort policy
	ExitOSError       = 71  // EX_OSERR: the kernel refused an init duty (subreaper)
	ExitNoPermission  = 77  // EX_NOPERM: privileges could not be dropped, or root refused
	ExitConfig        = 78  // EX_CONFIG: bad environment value
	ExitNotExecutable = 126 // the command exists but cannot be executed
	ExitNotFound      = 127 // the command does not exist
)

// A Gate tells when a freshly started sidecar is ready to serve. One Gate serves
// every (re)start of its sidecar.
type Gate interface {
	// Env returns entries added to the sidecar's environment before it is spawned
	// (healthgate adds NOTIFY_SOCKET).
	Env() []string
	// Wait blocks until the sidecar is ready, ctx ends, or exited is closed (the
	// sidecar process died: Wait must return at once then), and says how readiness
	// was seen ("notify" or "probe").
	Wait(ctx context.Context, exited <-chan struct{}) (how string, err error)
}

// Role says how a service takes part in the container's life.
type Role int

const (
	// Main services are what the container is for. They start after the sidecars,
	// the first to exit ends the container, and they are stopped first.
	Main Role = iota
	// Sidecar services serve the main services. They start first, gated on
	// readiness, are restarted when they die after boot, and are stopped last.
	Sidecar
)

func (r Role) String() string {
	if r == Sidecar {
		return "sidecar"
	}
	return "main"
}

// FailurePolicy says what a sidecar that fails its gate, or crash-loops, does to
// the container.
type FailurePolicy int

const (
	// Abort stops everything and exits 69 with one error line.
	Abort FailurePolicy = iota
	// Degrade stops the sidecar and runs the main services without it, the
	// sidecar's Exports set empty for them, with a warning.
	Degrade
)

// A Service declares one long-running process.
type Service struct {
	Name string
	Role Role
	Argv []string // the command and its arguments; Argv[0] is looked up in PATH
	Dir  string   // working directory; empty means the init's
	Env  []string // NAME=value entries that override the init's environment

	// The fields below apply to sidecars only.

	// Gate, when set, is awaited after each spawn; main services start only once
	// every gated sidecar is ready. Its Env is called after the privilege drop.
	Gate        Gate
	GateTimeout time.Duration // how long Gate may take; default 30s
	// Exports are NAME=value entries given to the main services, e.g.
	// MEMORY_PLUGIN_URL=http://127.0.0.1:9100. When the sidecar is given up on
	// under Degrade, main services started afterwards get NAME= (empty) instead.
	Exports   []string
	OnFailure FailurePolicy
	Restart   RestartPolicy
	// Hint ends the failure line, e.g. "run `tenant-init check` to diagnose".
	Hint string
	// Precheck, when set, runs before each spawn of the sidecar; an error fails
	// that run as a failed gate would. It guards what a gate cannot see: a
	// listen address already served by another process, whose answers a
	// health probe would take for the new sidecar's.
	Precheck func() error
	// Lost says what the main services lack once the sidecar is given up on
	// under Degrade, e.g. "memory is off"; the warning ends with it, so that
	// the operator reads the consequence, not only the sidecar's name.
	Lost string
}

// RestartPolicy schedules the restarts of a sidecar that dies after boot. Zero
// fields take the defaults shown.
type RestartPolicy struct {
	FirstDelay time.Duration // delay before the first restart; default 1s, each delay randomised ±50%
	MaxDelay   time.Duration // the delay doubles up to this; default 30s
	// Limit is the crash-loop limit: after this many restarts in a row fail (die
	// or miss the gate before running StableAfter) the sidecar is given up on under
	// its FailurePolicy. Default 5.
	Limit       int
	StableAfter time.Duration // a run this long resets the count; default 1m
}

// Config is everything Run needs.
type Config struct {
	// Services in start order within each role: sidecars first, then the main
	// services. The first Main service is "the main service": it owns the
	// terminal and its status is tenant-init's when a signal stopped the container.
	Services  []Service
	Grace     time.Duration   // SIGTERM-to-SIGKILL grace per shutdown phase; default 10s
	User      User            // whom to run as when started as root; zero: none configured (root if AllowRoot, else refused)
	AllowRoot bool            // permit services to run as root
	Log       *logging.Logger // nil discards
}

const (
	// DefaultGrace is the shutdown grace when Config.Grace is zero.
	DefaultGrace       = 10 * time.Second
	defaultGateTimeout = 30 * time.Second
)

// Run supervises cfg.Services until the container ends, and returns the status
// tenant-init exits with. It takes over the process: it must be called once, in a
// process that starts children only through it (it reaps every child).
func Run(cfg Config) int {
	s, code := newSupervisor(cfg)
	if code != 0 {
		return code
	}
	return s.run()
}
