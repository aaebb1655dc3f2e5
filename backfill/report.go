package backfill

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// doneKey is the summary key of the rows a mode got done: the one key that
// differs between modes, so a script cannot mistake a dry run for a copy.
func doneKey(m Mode) string {
	switch m {
	case DryRun:
		return "would_copy"
	case Verify:
		return "verified"
	}
	return "copied"
}

// A SkippedRow is a source row that is not copied, and why.
type SkippedRow struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"workspace_id"` // "" when NULL
	Scope       string `json:"scope"`
	Reason      Reason `json:"reason"`
}

// A FailedRow is a row the plugin refused or did not take (apply), or that is
// missing or different in the plugin (verify).
type FailedRow struct {
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	// Reason is the plugin's error code (bad_request, forbidden, ...),
	// "unavailable" when retries ran out, or with -verify one of missing,
	// namespace_mismatch, content_mismatch.
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// A Summary is the outcome of a run.
type Summary struct {
	Mode       Mode
	Scanned    int64
	Done       int64 // copied, would_copy or verified
	Skipped    int64
	Failed     int64
	Elapsed    time.Duration
	WritePath  string // apply: "batch" or "single"
	Columns    Columns
	Namespaces map[string]int64
	Rules      map[Rule]int64
	Reasons    map[Reason]int64
	Skips      []SkippedRow
	Fails      []FailedRow
	Error      string // why the run stopped early, "" when it did not
}

// MarshalJSON writes the summary with the mode's own key for Done.
func (s *Summary) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"mode":              s.Mode,
		"scanned":           s.Scanned,
		doneKey(s.Mode):     s.Done,
		"skipped":           s.Skipped,
		"failed":            s.Failed,
		"elapsed":           roundElapsed(s.Elapsed).String(),
		"elapsed_seconds":   s.Elapsed.Seconds(),
		"source_columns":    s.Columns,
		"namespaces":        nonNil(s.Namespaces),
		"rules":             nonNil(s.Rules),
		"skipped_by_reason": nonNil(s.Reasons),
		"skipped_rows":      nonNilSlice(s.Skips),
		"failed_rows":       nonNilSlice(s.Fails),
	}
	if s.WritePath != "" {
		m["write_path"] = s.WritePath
	}
	if s.Error != "" {
		m["error"] = s.Error
	}
	return json.Marshal(m) // map keys come out sorted: a stable document
}

// Line is the final summary line; its keys are fixed (docs/memory-backfill.md).
func (s *Summary) Line() string {
	return fmt.Sprintf("summary mode=%s scanned=%d %s=%d skipped=%d failed=%d elapsed=%s",
		s.Mode, s.Scanned, doneKey(s.Mode), s.Done, s.Skipped, s.Failed, roundElapsed(s.Elapsed))
}

func roundElapsed(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func nonNil[K comparable](m map[K]int64) map[K]int64 {
	if m == nil {
		return map[K]int64{}
	}
	return m
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// A reporter counts a run as it goes (safe for concurrent use) and prints it.
// Rows to copy (dry run) are printed as they come, never collected; skipped and
// failed rows are collected, sorted and listed at the end.
type reporter struct {
	mode                           Mode
	start                          time.Time
	scanned, done, skipped, failed atomic.Int64

	mu    sync.Mutex
	sum   Summary
	out   *bufio.Writer
	json  bool
	first bool // no row printed yet in the JSON rows array
}

func newReporter(mode Mode, asJSON bool, stdout io.Writer) *reporter {
	r := &reporter{
		mode:  mode,
		start: time.Now(),
		out:   bufio.NewWriter(stdout),
		json:  asJSON,
		first: true,
		sum: Summary{Mode: mode, Namespaces: map[string]int64{}, Rules: map[Rule]int64{},
			Reasons: map[Reason]int64{}},
	}
	if asJSON && mode == DryRun {
		// The rows of a dry run stream into the summary object's first key, so
		// -json carries every row without holding them.
		r.out.WriteString(`{"rows":[`)
	}
	return r
}

func (r *reporter) scan(n int) { r.scanned.Add(int64(n)) }

func (r *reporter) rules(rules []Rule) {
	if len(rules) == 0 {
		return
	}
	r.mu.Lock()
	for _, rule := range rules {
		r.sum.Rules[rule]++
	}
	r.mu.Unlock()
}

func (r *reporter) skip(row Row, reason Reason) {
	r.skipped.Add(1)
	r.mu.Lock()
	r.sum.Reasons[reason]++
	r.sum.Skips = append(r.sum.Skips, SkippedRow{ID: row.ID, WorkspaceID: row.WorkspaceID, Scope: row.Scope, Reason: reason})
	r.mu.Unlock()
}

// ok records a row copied, verified or (dry run, printRow) to be copied.
func (r *reporter) ok(w MemoryWrite, rules []Rule, printRow bool) {
	r.done.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.Namespaces[w.Namespace]++
	if !printRow {
		return
	}
	if r.json {
		b, _ := json.Marshal(struct {
			ID          string `json:"id"`
			Namespace   string `json:"namespace"`
			Scope       string `json:"scope"`
			WorkspaceID string `json:"workspace_id"`
			Rules       []Rule `json:"rules,omitempty"`
		}{w.ID, w.Namespace, w.Metadata.Scope, w.Metadata.WorkspaceID, rules})
		if !r.first {
			r.out.WriteByte(',')
		}
		r.first = false
		r.out.Write(b)
		return
	}
	fmt.Fprintf(r.out, "copy %s -> %s scope=%s workspace=%s", w.ID, w.Namespace, w.Metadata.Scope, w.Metadata.WorkspaceID)
	for _, rule := range rules {
		fmt.Fprintf(r.out, " rule=%s", rule)
	}
	r.out.WriteByte('\n')
}

func (r *reporter) fail(f FailedRow) {
	r.failed.Add(1)
	r.mu.Lock()
	r.sum.Fails = append(r.sum.Fails, f)
	r.mu.Unlock()
}

// finish prints the report and returns the summary.
func (r *reporter) finish(runErr error) *Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.sum
	s.Scanned, s.Done, s.Skipped, s.Failed = r.scanned.Load(), r.done.Load(), r.skipped.Load(), r.failed.Load()
	s.Elapsed = time.Since(r.start)
	if runErr != nil {
		s.Error = runErr.Error()
	}
	sort.Slice(s.Skips, func(i, j int) bool { return s.Skips[i].ID < s.Skips[j].ID })
	sort.Slice(s.Fails, func(i, j int) bool { return s.Fails[i].ID < s.Fails[j].ID })
	if r.json {
		b, _ := json.Marshal(s)
		if s.Mode == DryRun {
			r.out.WriteString("],")
			b = b[1:]
		}
		r.out.Write(b)
		r.out.WriteByte('\n')
	} else {
		r.printLines(s)
	}
	r.out.Flush()
	return s
}

func (r *reporter) printLines(s *Summary) {
	for _, k := range s.Skips {
		ws := k.WorkspaceID
		if ws == "" {
			ws = "NULL"
		}
		fmt.Fprintf(r.out, "skipped %s reason=%s scope=%s workspace=%s\n", k.ID, k.Reason, k.Scope, ws)
	}
	for _, f := range s.Fails {
		fmt.Fprintf(r.out, "failed %s namespace=%s reason=%s", f.ID, f.Namespace, f.Reason)
		if f.Detail != "" {
			fmt.Fprintf(r.out, " detail=%q", f.Detail)
		}
		r.out.WriteByte('\n')
	}
	for _, ns := range sortedKeys(s.Namespaces) {
		fmt.Fprintf(r.out, "namespace %s %s=%d\n", ns, doneKey(s.Mode), s.Namespaces[ns])
	}
	for _, k := range sortedKeys(s.Reasons) {
		fmt.Fprintf(r.out, "reason %s skipped=%d\n", k, s.Reasons[k])
	}
	for _, k := range sortedKeys(s.Rules) {
		fmt.Fprintf(r.out, "rule %s rows=%d\n", k, s.Rules[k])
	}
	if s.Error != "" {
		fmt.Fprintf(r.out, "error %s\n", strings.ReplaceAll(s.Error, "\n", " "))
	}
	fmt.Fprintln(r.out, s.Line())
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}
