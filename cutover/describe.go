package cutover

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// Describe says in one sentence what the boot will do about the memory
// plugin, for the boot log and `tenant-init check`. Passwords are redacted.
func (p Plan) Describe() string {
	switch p.Mode {
	case ModeNone:
		return "no memory-plugin sidecar: memory v2 is not opted in (MEMORY_V2_CUTOVER is not true and MEMORY_PLUGIN_URL is unset); main services start alone"
	case ModeExternal:
		return "no memory-plugin sidecar: external memory plugin at " + redactURL(p.PluginURL) + ", passed to the main services unchanged"
	case ModeDisabled:
		if p.PluginURL == "" {
			return "no memory-plugin sidecar: MEMORY_PLUGIN_DISABLE=1; main services get no MEMORY_PLUGIN_URL"
		}
		return "no memory-plugin sidecar: MEMORY_PLUGIN_DISABLE=1; main services get MEMORY_PLUGIN_URL=" + redactURL(p.PluginURL) + " unchanged"
	case ModeBundled:
		policy := "boot aborts if it is not healthy"
		if !p.Required {
			policy = "if it is not healthy, main services start with MEMORY_PLUGIN_URL empty (memory off)"
		}
		return fmt.Sprintf("bundled memory-plugin sidecar %s on %s (database %s from %s), gated for up to %s; main services get MEMORY_PLUGIN_URL=%s; %s",
			p.Bin, p.ListenAddr, RedactDatabaseURL(p.DatabaseURL), p.DatabaseVar, p.GateTimeout, redactURL(p.PluginURL), policy)
	}
	return "unknown memory-plugin mode " + p.Mode.String()
}

// String is Describe, so that a Plan printed with %v never shows a password.
func (p Plan) String() string { return p.Describe() }

// GoString keeps %#v from printing the database password too.
func (p Plan) GoString() string { return "cutover.Plan{" + p.Describe() + "}" }

// keywordPassword is compiled on first use, not at package init: compiling it
// costs PID 1 about 0.4 ms at every start, and most boots never need it.
var keywordPassword = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']\S*)`)
})

// RedactDatabaseURL hides the password of a PostgreSQL connection string in
// either form pgx accepts: a URL (user:password@, or ?password=) or
// keyword=value pairs.
func RedactDatabaseURL(s string) string {
	if !strings.Contains(s, "://") {
		return keywordPassword().ReplaceAllString(s, "${1}xxxxx")
	}
	return redactURL(s)
}

// redactURL hides the password of a URL's user info and a password query
// parameter; an unparsable URL is not shown at all.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL, not shown)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
