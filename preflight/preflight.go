// Package preflight answers, before an operator flips memory-v2 cutover, whether
// the boot would succeed: is the environment valid, can the sidecar binary run as
// the configured user, does the database answer, is pgvector there (or may this
// role create it), is the port free, does an external plugin answer.
//
// Every check only looks: no CREATE EXTENSION, no migration, no listening beyond
// a momentary bind. The pgvector check exists to catch ahead of time what broke
// the old shell entrypoint on staging: a sidecar dying on a database without
// pgvector, 30 s into every redeploy (docs/boot.md).
package preflight

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Status is the outcome of one check.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip" // the check does not apply to this environment
)

// Check IDs are stable: operators and scripts match on them.
const (
	CheckEnv            = "env"
	CheckUser           = "user"
	CheckSidecarBinary  = "sidecar-binary"
	CheckCommand        = "command"
	CheckDatabase       = "database"
	CheckPgvector       = "pgvector"
	CheckListen         = "listen"
	CheckExternalPlugin = "external-plugin"
)

// A Result is what one check found.
type Result struct {
	ID     string `json:"id"`
	Status Status `json:"status"`
	// Detail says what was found, or why the check was skipped.
	Detail string `json:"detail"`
	// Hint, on a failure, says what the operator can do about it.
	Hint string `json:"hint,omitempty"`
}

func pass(id, format string, args ...any) Result {
	return Result{ID: id, Status: Pass, Detail: oneLine(format, args...)}
}

func skip(id, format string, args ...any) Result {
	return Result{ID: id, Status: Skip, Detail: oneLine(format, args...)}
}

func fail(id, hint, format string, args ...any) Result {
	return Result{ID: id, Status: Fail, Detail: oneLine(format, args...), Hint: hint}
}

// oneLine formats a detail and folds it onto one line: drivers' errors span
// several (pgx lists each address it tried), and the report promises one line
// per check. Repeated lines, such as one per address of a host, appear once.
func oneLine(format string, args ...any) string {
	var parts []string
	seen := map[string]bool{}
	for _, line := range strings.Split(fmt.Sprintf(format, args...), "\n") {
		line = strings.TrimRight(strings.TrimSpace(line), ":")
		if line != "" && !seen[line] {
			seen[line] = true
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, ": ")
}

// A Report is the outcome of a whole preflight run.
type Report struct {
	// Status is fail when any check failed, pass otherwise.
	Status Status   `json:"status"`
	Checks []Result `json:"checks"`
}

func newReport(results []Result) Report {
	r := Report{Status: Pass, Checks: results}
	for _, c := range results {
		if c.Status == Fail {
			r.Status = Fail
		}
	}
	return r
}

// Result returns the result of the check with the given ID.
func (r Report) Result(id string) (Result, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Result{}, false
}

// WriteText writes one line per check, and the hint under each failure.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s  %-15s  %s\n", c.Status, c.ID, c.Detail)
		if c.Hint != "" {
			fmt.Fprintf(&b, "      %-15s  hint: %s\n", "", c.Hint)
		}
	}
	fmt.Fprintf(&b, "preflight: %s\n", r.Status)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
