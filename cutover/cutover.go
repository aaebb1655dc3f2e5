// Package cutover decides, from the operator's environment, whether a tenant
// boots with the bundled memory-plugin sidecar, and how.
//
// It is the one reader of the cutover variables (docs/boot.md states the
// contract, docs/tenant-init.md "Memory v2 cutover" every rule). tenant-init's boot and `tenant-init check` both call Read, so the
// preflight can never disagree with what the boot does. Every value is read
// strictly through package envvar, and every configuration problem is an
// *envvar.Error: callers map it to exit status 78 (EX_CONFIG).
package cutover

import (
	"net/url"
	"time"

	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/loopback"
)

// The variables Read consults; the names are the operators' contract.
const (
	varCutover     = "MEMORY_V2_CUTOVER"
	varURL         = "MEMORY_PLUGIN_URL"
	varDisable     = "MEMORY_PLUGIN_DISABLE"
	varDatabaseURL = "MEMORY_PLUGIN_DATABASE_URL"
	varPlatformDB  = "DATABASE_URL"
	varListenAddr  = "MEMORY_PLUGIN_LISTEN_ADDR"
	varBin         = "MEMORY_PLUGIN_BIN"
	varGateTimeout = "MEMORY_PLUGIN_GATE_TIMEOUT"
	varRequired    = "MEMORY_PLUGIN_REQUIRED"
	varRestarts    = "MEMORY_PLUGIN_RESTART_LIMIT"
)

// Defaults of the variables that have one.
const (
	DefaultBin         = "/memory-plugin"
	DefaultListenAddr  = "127.0.0.1:9100"
	DefaultGateTimeout = 30 * time.Second
	// DefaultRestartLimit is the sidecar's crash-loop limit: after this many
	// restarts in a row that fail, the sidecar is given up on.
	DefaultRestartLimit = 5
	maxRestartLimit     = 100
)

// Mode says whether and where the memory plugin runs.
type Mode int

const (
	// ModeNone: memory v2 is not opted in; no sidecar, no gate, no database.
	ModeNone Mode = iota
	// ModeBundled: tenant-init starts the sidecar and gates the main services on it.
	ModeBundled
	// ModeExternal: MEMORY_PLUGIN_URL points away from loopback; the plugin runs
	// elsewhere and the URL reaches the main services unchanged.
	ModeExternal
	// ModeDisabled: MEMORY_PLUGIN_DISABLE=1 keeps the sidecar off whatever else is set.
	ModeDisabled
)

func (m Mode) String() string {
	switch m {
	case ModeNone:
		return "none"
	case ModeBundled:
		return "bundled"
	case ModeExternal:
		return "external"
	case ModeDisabled:
		return "disabled"
	}
	return "unknown"
}

// A Plan is what the boot will do about the memory plugin.
//
// Plan holds a database URL with its password: print it with %v or String,
// which redact, never field by field.
type Plan struct {
	Mode Mode

	// ListenAddr is the MEMORY_PLUGIN_LISTEN_ADDR the sidecar gets (ModeBundled only).
	ListenAddr string
	// ProbeURL is the base URL where the sidecar really listens, for the
	// health gate and the preflight's listen check (ModeBundled only).
	ProbeURL string
	// PluginURL is the MEMORY_PLUGIN_URL the main services see: the exported
	// address of the sidecar (ModeBundled), the operator's URL unchanged
	// (ModeExternal, ModeDisabled), or empty.
	PluginURL string
	// DatabaseURL is the sidecar's database and DatabaseVar the variable it
	// came from, MEMORY_PLUGIN_DATABASE_URL or DATABASE_URL (ModeBundled only).
	DatabaseURL string
	DatabaseVar string

	// Bin is the sidecar's executable (MEMORY_PLUGIN_BIN).
	Bin string
	// GateTimeout bounds how long the main services wait for the sidecar.
	GateTimeout time.Duration
	// Required is true when a sidecar that never becomes healthy aborts the
	// boot, false when the main services then start with memory off.
	Required bool
	// RestartLimit is the crash-loop limit of a sidecar that dies after boot:
	// after this many restarts in a row fail, it is given up on, aborting or
	// degrading as Required says.
	RestartLimit int
}

// Read turns the cutover environment into a Plan. Every variable is checked
// even when the mode does not use it, so a typo surfaces before the operator
// flips cutover, not after. The error, if any, is an *envvar.Error.
func Read(env envvar.Lookup) (Plan, error) {
	cutover, err := env.Bool(varCutover, false)
	if err != nil {
		return Plan{}, err
	}
	rawURL := env.String(varURL, "")
	pluginURL, err := parsePluginURL(rawURL)
	if err != nil {
		return Plan{}, err
	}
	disable, err := env.Bool(varDisable, false)
	if err != nil {
		return Plan{}, err
	}
	listen, err := parseListenAddr(env.String(varListenAddr, ""))
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Bin: env.String(varBin, DefaultBin), PluginURL: rawURL}
	if p.GateTimeout, err = env.Duration(varGateTimeout, DefaultGateTimeout); err != nil {
		return Plan{}, err
	}
	if p.Required, err = env.Bool(varRequired, true); err != nil {
		return Plan{}, err
	}
	if p.RestartLimit, err = env.Int(varRestarts, DefaultRestartLimit, 1, maxRestartLimit); err != nil {
		return Plan{}, err
	}

	// An external URL wins over MEMORY_V2_CUTOVER=true: the main services will
	// talk to that URL, so a local sidecar would serve nobody.
	switch {
	case pluginURL != nil && !loopback.IsHost(pluginURL.Hostname()):
		p.Mode = ModeExternal
	case disable:
		p.Mode = ModeDisabled
	case !cutover && pluginURL == nil:
		p.Mode = ModeNone
	default:
		p.Mode = ModeBundled
		if err := p.planSidecar(env, rawURL, pluginURL, listen); err != nil {
			return Plan{}, err
		}
	}
	return p, nil
}

// planSidecar fills the fields of ModeBundled: where the sidecar listens,
// where the gate probes it, what the main services are told, which database.
func (p *Plan) planSidecar(env envvar.Lookup, rawURL string, pluginURL *url.URL, listen *hostPort) error {
	if pluginURL != nil && pluginURL.Scheme != "http" {
		return &envvar.Error{Name: varURL, Value: rawURL,
			Reason:   "the bundled sidecar serves plain http on loopback",
			Accepted: "an http:// loopback URL such as http://localhost:9100, or an external https:// URL"}
	}
	switch {
	case listen != nil && pluginURL != nil:
		if err := agree(listen, rawURL, pluginURL); err != nil {
			return err
		}
	case listen == nil && pluginURL != nil:
		// Listen where the operator's URL points, so the two cannot disagree.
		listen = urlListenAddr(pluginURL)
	case listen == nil:
		listen, _ = parseListenAddr(DefaultListenAddr) // a constant that parses
	}
	p.ListenAddr = listen.raw
	p.ProbeURL = "http://" + listen.probeTarget()
	if p.PluginURL == "" {
		p.PluginURL = p.ProbeURL
	}

	p.DatabaseVar = varDatabaseURL
	if p.DatabaseURL = env.String(varDatabaseURL, ""); p.DatabaseURL == "" {
		p.DatabaseVar = varPlatformDB
		p.DatabaseURL = env.String(varPlatformDB, "")
	}
	if p.DatabaseURL == "" {
		return &envvar.Error{Name: varDatabaseURL,
			Reason:   "the bundled memory-plugin sidecar needs a database (" + optIn(rawURL) + ") and DATABASE_URL is not set either",
			Accepted: "a PostgreSQL URL such as postgres://user:password@host:5432/db in MEMORY_PLUGIN_DATABASE_URL or DATABASE_URL, or MEMORY_PLUGIN_DISABLE=1"}
	}
	return nil
}

// optIn names what asked for the sidecar, for the missing-database error.
func optIn(rawURL string) string {
	if rawURL != "" {
		return varURL + " is loopback"
	}
	return varCutover + "=true"
}

// MainEnv returns the entries the main services' environment gets on top of
// tenant-init's own once the sidecar is healthy: MEMORY_PLUGIN_URL in
// ModeBundled, nothing otherwise (an operator's URL is inherited as is).
func (p Plan) MainEnv() []string {
	if p.Mode != ModeBundled {
		return nil
	}
	return []string{varURL + "=" + p.PluginURL}
}

// SidecarEnv returns the entries the sidecar's environment gets: where to
// listen and which database to use (ModeBundled only).
func (p Plan) SidecarEnv() []string {
	if p.Mode != ModeBundled {
		return nil
	}
	return []string{varListenAddr + "=" + p.ListenAddr, varDatabaseURL + "=" + p.DatabaseURL}
}
