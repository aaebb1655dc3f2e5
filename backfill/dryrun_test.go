package backfill

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agentplatform/tenant-init/internal/pgtest"
)

// summaryJSON is the -json document, as a script would read it.
type summaryJSON struct {
	Rows []struct {
		ID          string `json:"id"`
		Namespace   string `json:"namespace"`
		Scope       string `json:"scope"`
		WorkspaceID string `json:"workspace_id"`
		Rules       []Rule `json:"rules"`
	} `json:"rows"`
	Mode            Mode             `json:"mode"`
	Scanned         int64            `json:"scanned"`
	WouldCopy       *int64           `json:"would_copy"`
	Copied          *int64           `json:"copied"`
	Verified        *int64           `json:"verified"`
	Skipped         int64            `json:"skipped"`
	Failed          int64            `json:"failed"`
	Elapsed         string           `json:"elapsed"`
	ElapsedSeconds  float64          `json:"elapsed_seconds"`
	WritePath       string           `json:"write_path"`
	SourceColumns   Columns          `json:"source_columns"`
	Namespaces      map[string]int64 `json:"namespaces"`
	Rules           map[Rule]int64   `json:"rules"`
	SkippedByReason map[Reason]int64 `json:"skipped_by_reason"`
	SkippedRows     []SkippedRow     `json:"skipped_rows"`
	FailedRows      []FailedRow      `json:"failed_rows"`
	Error           string           `json:"error"`
	// -limit, contract-only targets, -verify-sample.
	Limit                  *int     `json:"limit"`
	LimitReached           bool     `json:"limit_reached"`
	Unchanged              int64    `json:"unchanged"`
	CannotKeep             []string `json:"cannot_keep"`
	SampledWorkspaces      []string `json:"sampled_workspaces"`
	WorkspacesWithMemories int      `json:"workspaces_with_memories"`
}

func decodeSummary(t testing.TB, stdout string) summaryJSON {
	t.Helper()
	var s summaryJSON
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%.500s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("stdout has more than one JSON document")
	}
	return s
}

func deref(p *int64) any {
	if p == nil {
		return "absent"
	}
	return *p
}

// silentPlugin is an HTTP server at the plugin's address that counts what it
// receives: a dry run must send it nothing.
func silentPlugin(t *testing.T) (url string, requests *atomic.Int64) {
	requests = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, `{"code":"internal","message":"a dry run called the plugin"}`, 500)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, requests
}

func TestDryRunReportsEveryRowAndChangesNothing(t *testing.T) {
	f := newFixture(t, allColumns, fixtureBulk)
	pluginURL, requests := silentPlugin(t)
	before, catalog := checksum(t, f.url), pgtest.Catalog(t, f.url)

	// An odd page size makes pages end in the middle of every kind of row.
	got := runMain(t, map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": pluginURL},
		"-dry-run", "-json", "-batch-size", "97")

	if got.code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", got.code, got.stderr)
	}
	if after := checksum(t, f.url); after != before {
		t.Fatalf("the dry run changed the v1 tables")
	}
	if after := pgtest.Catalog(t, f.url); after != catalog {
		t.Fatalf("the dry run changed the database: %s -> %s", catalog, after)
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("the dry run sent %d requests to the plugin", n)
	}
	s := decodeSummary(t, got.stdout)
	want := f.counts()
	if s.Mode != DryRun || s.Scanned != 10000 || s.Scanned != want.scanned || s.WouldCopy == nil || *s.WouldCopy != want.copy ||
		s.Skipped != want.skipped || s.Failed != 0 || s.Copied != nil || s.Error != "" {
		t.Fatalf("mode %s scanned %d would_copy %v copied %v skipped %d failed %d error %q; want scanned %d would_copy %d skipped %d",
			s.Mode, s.Scanned, deref(s.WouldCopy), deref(s.Copied), s.Skipped, s.Failed, s.Error, want.scanned, want.copy, want.skipped)
	}
	if s.SourceColumns != (Columns{Namespace: true, Embedding: true, ContentTSV: true}) {
		t.Fatalf("source_columns %+v, want all three", s.SourceColumns)
	}
	seen := map[string]bool{}
	for _, r := range s.Rows {
		w, ok := f.rows[r.ID]
		if seen[r.ID] || !ok {
			t.Fatalf("row %s listed twice or not in the fixture", r.ID)
		}
		seen[r.ID] = true
		if r.Namespace != w.namespace || !slices.Equal(r.Rules, w.rules) {
			t.Fatalf("row %s (%q) would go to %s by rules %v, want %q by %v", r.ID, w.content, r.Namespace, r.Rules, w.namespace, w.rules)
		}
	}
	for _, r := range s.SkippedRows {
		w := f.rows[r.ID]
		if seen[r.ID] || r.Reason != w.reason {
			t.Fatalf("row %s (%q) reported as %s, want %q", r.ID, w.content, r.Reason, w.reason)
		}
		seen[r.ID] = true
	}
	if len(seen) != len(f.rows) {
		t.Fatalf("%d rows listed, the fixture has %d", len(seen), len(f.rows))
	}
	if !reflect.DeepEqual(s.Namespaces, want.namespaces) || !reflect.DeepEqual(s.Rules, want.rules) || !reflect.DeepEqual(s.SkippedByReason, want.reasons) {
		t.Fatalf("namespaces/rules/reasons %v %v %v\nwant %v %v %v", s.Namespaces, s.Rules, s.SkippedByReason, want.namespaces, want.rules, want.reasons)
	}
	if !strings.HasPrefix(got.stderr, fmt.Sprintf("summary mode=dry-run scanned=10000 would_copy=%d skipped=%d failed=0 elapsed=", want.copy, want.skipped)) {
		t.Fatalf("stderr %q: want the summary line", got.stderr)
	}
}

func TestDryRunWithoutOptionalColumnsPrintsOneLinePerRow(t *testing.T) {
	f := newFixture(t, noOptionalCols, 300)
	pluginURL, requests := silentPlugin(t)
	got := runMain(t, map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": pluginURL}, "--dry-run", "--batch-size=50")
	if got.code != ExitOK || requests.Load() != 0 {
		t.Fatalf("exit %d, %d plugin requests, stderr:\n%s", got.code, requests.Load(), got.stderr)
	}
	want := f.counts()
	lines := strings.Split(strings.TrimSuffix(got.stdout, "\n"), "\n")
	var copies, skips int64
	for _, l := range lines {
		fields := strings.Fields(l)
		switch fields[0] {
		case "copy":
			copies++
			if w := f.rows[fields[1]]; fields[2] != "->" || fields[3] != w.namespace {
				t.Fatalf("line %q, want %s going to %s", l, fields[1], w.namespace)
			}
		case "skipped":
			skips++
			if w := f.rows[fields[1]]; fields[2] != "reason="+string(w.reason) {
				t.Fatalf("line %q, want reason %s", l, w.reason)
			}
		}
	}
	if copies != want.copy || skips != want.skipped {
		t.Fatalf("%d copy and %d skipped lines, want %d and %d", copies, skips, want.copy, want.skipped)
	}
	last := lines[len(lines)-1]
	wantLast := fmt.Sprintf("summary mode=dry-run scanned=%d would_copy=%d skipped=%d failed=0 elapsed=", want.scanned, want.copy, want.skipped)
	if !strings.HasPrefix(last, wantLast) {
		t.Fatalf("last line %q, want %q…", last, wantLast)
	}
	if !slices.Contains(lines, fmt.Sprintf("namespace team:%s would_copy=%d", f.ws["orgB"], want.namespaces["team:"+f.ws["orgB"]])) {
		t.Fatalf("no per-namespace count for team:orgB in:\n%s", got.stdout)
	}
}

func TestDryRunOfOneWorkspaceReadsOnlyItsRows(t *testing.T) {
	f := newFixture(t, noOptionalCols, 0)
	for _, name := range []string{"under", "ghost"} {
		got := runMain(t, map[string]string{"DATABASE_URL": f.url}, "-dry-run", "-json", "-workspace", strings.ToUpper(f.ws[name]))
		if got.code != ExitOK {
			t.Fatalf("%s: exit %d, stderr:\n%s", name, got.code, got.stderr)
		}
		s := decodeSummary(t, got.stdout)
		var want int64
		for id, w := range f.rows {
			if strings.Contains(w.content, "of "+name) {
				want++
				if !slices.ContainsFunc(s.Rows, func(r struct {
					ID          string `json:"id"`
					Namespace   string `json:"namespace"`
					Scope       string `json:"scope"`
					WorkspaceID string `json:"workspace_id"`
					Rules       []Rule `json:"rules"`
				}) bool {
					return r.ID == id
				}) && !slices.ContainsFunc(s.SkippedRows, func(r SkippedRow) bool { return r.ID == id }) {
					t.Fatalf("%s: row %s is not listed", name, id)
				}
			}
		}
		if s.Scanned != want || want == 0 {
			t.Fatalf("%s: scanned %d rows, the workspace has %d", name, s.Scanned, want)
		}
	}
}

func TestDryRunNeedsOnlySelectOnTheTwoTables(t *testing.T) {
	f := newFixture(t, allColumns, 50)
	srv := pgtest.Shared(t)
	role := "reader_" + strings.ReplaceAll(newUUID()[:8], "-", "")
	srv.Exec(t, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'pw'", role))
	execSQL(t, f.url, fmt.Sprintf("GRANT SELECT ON workspaces, agent_memories TO %s", role))
	t.Cleanup(func() {
		execSQL(t, f.url, "DROP OWNED BY "+role)
		srv.Exec(t, "DROP ROLE "+role)
	})
	u, _ := url.Parse(f.url)
	u.User = url.UserPassword(role, "pw")
	got := runMain(t, map[string]string{"DATABASE_URL": u.String()}, "-dry-run", "-json")
	if got.code != ExitOK {
		t.Fatalf("exit %d as a SELECT-only role, stderr:\n%s", got.code, got.stderr)
	}
	if s := decodeSummary(t, got.stdout); s.Scanned != f.counts().scanned {
		t.Fatalf("scanned %d of %d rows", s.Scanned, f.counts().scanned)
	}
}

func TestStartFailsWith69WhenTheV1TablesAreMissing(t *testing.T) {
	got := runMain(t, map[string]string{"DATABASE_URL": pgtest.New(t)}, "-dry-run")
	want := "memory-backfill: source database: table workspaces not found in the search_path of DATABASE_URL: is this the platform's v1 database?\n"
	if got.code != ExitUnavailable || got.stderr != want {
		t.Fatalf("exit %d, stderr %q; want 69, %q", got.code, got.stderr, want)
	}
}
