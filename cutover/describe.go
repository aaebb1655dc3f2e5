package cutover

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
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

// RedactDatabaseURL hides the password of a PostgreSQL connection string in
// either form pgx accepts: a URL (user:password@, or ?password=) or
// keyword=value pairs.
func RedactDatabaseURL(s string) string {
	if !strings.Contains(s, "://") {
		return redactKeywordPassword(s)
	}
	return redactURL(s)
}

// redactKeywordPassword replaces the value of every password = value in s by
// xxxxx, the value being a single-quoted string (backslash escapes) or a run
// of non-space characters not starting with a quote. It does what
// regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']\S*)`).
// ReplaceAllString(s, "${1}xxxxx") does (a test compares them), without
// package regexp, which PID 1 would link and initialise for this one pattern.
func redactKeywordPassword(s string) string {
	var out strings.Builder
	done := 0 // s[:done] is in out
	for i := 0; i < len(s); {
		keep, end, ok := matchKeywordPassword(s, i)
		if !ok {
			i++
			continue
		}
		out.WriteString(s[done:keep])
		out.WriteString("xxxxx")
		done, i = end, end
	}
	if done == 0 {
		return s
	}
	return out.String() + s[done:]
}

// matchKeywordPassword matches password\s*=\s*VALUE at s[i:]: keep is where
// VALUE starts, end where it ends.
func matchKeywordPassword(s string, i int) (keep, end int, ok bool) {
	for _, want := range "password" {
		r, size := utf8.DecodeRuneInString(s[i:])
		// (?i) folds as Unicode does: s also matches S and ſ (U+017F).
		if size == 0 || unicode.ToLower(r) != want && !(want == 's' && r == 'ſ') {
			return 0, 0, false
		}
		i += size
	}
	i = skipSpace(s, i)
	if i == len(s) || s[i] != '=' {
		return 0, 0, false
	}
	keep = skipSpace(s, i+1)
	if keep == len(s) {
		return 0, 0, false
	}
	if s[keep] == '\'' {
		for j := keep + 1; j < len(s); j++ {
			switch s[j] {
			case '\'':
				return keep, j + 1, true
			case '\\':
				// \\. : the escaped character may be anything but a newline
				// (one rune: . matches a whole UTF-8 sequence).
				if j+1 == len(s) || s[j+1] == '\n' {
					return 0, 0, false
				}
				_, size := utf8.DecodeRuneInString(s[j+1:])
				j += size
			}
		}
		return 0, 0, false
	}
	if isSpace(s[keep]) {
		return 0, 0, false
	}
	end = keep + 1
	for end < len(s) && !isSpace(s[end]) {
		end++
	}
	return keep, end, true
}

// isSpace is \s of package regexp: ASCII space, tab, newline, form feed, CR.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
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
