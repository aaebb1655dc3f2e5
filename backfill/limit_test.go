package backfill

// The platform backfill's flags: -limit, -workspace and -verify-sample.

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func TestLimitedApplyRunsContinueUntilEveryRowIsCopied(t *testing.T) {
	for _, target := range []string{"our plugin", "a contract-only plugin"} {
		t.Run("into "+target, func(t *testing.T) {
			f := newFixture(t, noOptionalCols, 150)
			p := startPlugin(t, f.url, "")
			pluginURL := p.URL
			held := func() map[string]string { return checkCopied(t, f, p, everything) }
			if target != "our plugin" {
				pluginURL = newContractPlugin(t, p).URL
				held = func() map[string]string { return checkCopied(t, f, p, contractFields) }
			}
			env := map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": pluginURL}
			want := f.counts()
			ids := f.copyIDs()
			sort.Strings(ids)
			limit := int(want.copy/2) + 7

			// Run 1: the first rows in id order, up to the limit.
			got := runMain(t, env, "-apply", "-json", "-limit", strconv.Itoa(limit), "-batch-size", "40")
			s := decodeSummary(t, got.stdout)
			if got.code != ExitOK || *s.Copied != int64(limit) || !s.LimitReached || s.Unchanged != 0 || s.Failed != 0 ||
				s.Limit == nil || *s.Limit != limit || s.Scanned >= want.scanned {
				t.Fatalf("run 1: exit %d copied %v limit_reached %t unchanged %d failed %d scanned %d; want copied %d of %d, limit reached",
					got.code, deref(s.Copied), s.LimitReached, s.Unchanged, s.Failed, s.Scanned, limit, want.copy)
			}
			state := p.state(t, ids)
			if gotIDs := slices.Sorted(maps.Keys(state)); !slices.Equal(gotIDs, ids[:limit]) {
				t.Fatalf("run 1 copied %d rows, not the first %d copyable rows in id order", len(gotIDs), limit)
			}

			// Run 2 (flag in its other form): the rest, passing over run 1's rows.
			got = runMain(t, env, "-apply", "--limit="+strconv.Itoa(limit))
			for _, line := range []string{
				fmt.Sprintf("limit %d not reached: this run went through every row\n", limit),
				fmt.Sprintf("summary mode=apply scanned=%d copied=%d skipped=%d failed=0 elapsed=", want.scanned, want.copy-int64(limit), want.skipped),
				fmt.Sprintf(" unchanged=%d limit_reached=false\n", limit),
			} {
				if got.code != ExitOK || !strings.Contains(got.stdout, line) {
					t.Fatalf("run 2: exit %d, want %q in:\n%s", got.code, line, got.stdout)
				}
			}
			before := held()

			// Run 3: nothing left to copy; the plugin's state does not change.
			got = runMain(t, env, "-apply", "-json", "-limit", strconv.Itoa(limit))
			s = decodeSummary(t, got.stdout)
			if got.code != ExitOK || *s.Copied != 0 || s.Unchanged != want.copy || s.LimitReached {
				t.Fatalf("run 3: exit %d copied %v unchanged %d limit_reached %t; want 0, %d, false", got.code, deref(s.Copied), s.Unchanged, s.LimitReached, want.copy)
			}
			if !maps.Equal(before, held()) {
				t.Fatalf("a run with nothing left to copy changed the plugin's state")
			}
			if got := runMain(t, env, "-verify"); got.code != ExitOK {
				t.Fatalf("verify after the limited runs: exit %d\n%s", got.code, got.stdout)
			}
		})
	}
}

func TestLimitedApplyCopiesAgainARowThePluginHoldsDifferently(t *testing.T) {
	f := newFixture(t, noOptionalCols, 60)
	p := startPlugin(t, f.url, "")
	env := map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": p.URL}
	want := f.counts()
	if got := runMain(t, env, "-apply"); got.code != ExitOK {
		t.Fatalf("apply: exit %d\n%s", got.code, got.stdout)
	}
	ids := f.copyIDs()
	sort.Strings(ids)
	edited := ids[len(ids)-1] // the last in id order: a limit of 1 reaches it only by passing over all others
	p.commit(t, f.rows[edited].namespace, edited, "edited in the plugin")
	got := runMain(t, env, "-apply", "-json", "-limit", "1")
	s := decodeSummary(t, got.stdout)
	if got.code != ExitOK || *s.Copied != 1 || s.Unchanged != want.copy-1 || !s.LimitReached {
		t.Fatalf("exit %d copied %v unchanged %d limit_reached %t; want 1, %d, true", got.code, deref(s.Copied), s.Unchanged, s.LimitReached, want.copy-1)
	}
	checkCopied(t, f, p, everything)
}

func TestLimitedDryRunAndVerifyTakeTheFirstRowsInIDOrder(t *testing.T) {
	f := newFixture(t, noOptionalCols, 60)
	p := startPlugin(t, f.url, "")
	env := map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": p.URL}
	ids := f.copyIDs()
	sort.Strings(ids)
	got := runMain(t, env, "-dry-run", "-json", "-limit", "10")
	s := decodeSummary(t, got.stdout)
	var listed []string
	for _, r := range s.Rows {
		listed = append(listed, r.ID)
	}
	if got.code != ExitOK || !slices.Equal(listed, ids[:10]) || !s.LimitReached {
		t.Fatalf("dry run -limit 10: exit %d, listed %d rows (limit_reached %t), want the first 10 copyable rows", got.code, len(listed), s.LimitReached)
	}
	if got := runMain(t, env, "-apply", "-limit", "10"); got.code != ExitOK {
		t.Fatalf("apply: exit %d", got.code)
	}
	got = runMain(t, env, "-verify", "-json", "-limit", "10")
	if s := decodeSummary(t, got.stdout); got.code != ExitOK || *s.Verified != 10 || s.Failed != 0 {
		t.Fatalf("verify -limit 10 after apply -limit 10: exit %d verified %v failed %d", got.code, deref(s.Verified), s.Failed)
	}
	got = runMain(t, env, "-verify", "-json", "-limit", "11")
	if s := decodeSummary(t, got.stdout); got.code != ExitFailed || *s.Verified != 10 || s.Failed != 1 || s.FailedRows[0].ID != ids[10] {
		t.Fatalf("verify -limit 11 after apply -limit 10: exit %d verified %v failed %v; want the 11th row missing", got.code, deref(s.Verified), s.FailedRows)
	}
}

func TestApplyOfOneWorkspaceCopiesOnlyItsRows(t *testing.T) {
	f := newFixture(t, noOptionalCols, 120)
	p := startPlugin(t, f.url, "")
	cp := newContractPlugin(t, p)
	ws := f.ws["under"] // LOCAL, TEAM and GLOBAL rows, three namespaces
	var mine []string
	for id, w := range f.rows {
		if w.wsID == ws && w.reason == "" {
			mine = append(mine, id)
		}
	}
	got := runMain(t, map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": cp.URL}, "-apply", "-workspace", ws)
	if got.code != ExitOK || len(mine) < 3 {
		t.Fatalf("exit %d, %d rows of the workspace\n%s", got.code, len(mine), got.stdout)
	}
	if rows, _ := p.records(t); rows != int64(len(mine)) {
		t.Fatalf("the plugin holds %d rows, want the workspace's %d", rows, len(mine))
	}
	if state := p.state(t, mine); len(state) != len(mine) {
		t.Fatalf("the plugin holds %d of the workspace's %d rows", len(state), len(mine))
	}
}

func TestVerifySampleChecksEveryRowOfRandomWorkspaces(t *testing.T) {
	f := newFixture(t, noOptionalCols, 100)
	p := startPlugin(t, f.url, "")
	env := map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": p.URL}
	if got := runMain(t, env, "-apply"); got.code != ExitOK {
		t.Fatalf("apply: exit %d\n%s", got.code, got.stdout)
	}
	rowsOf := map[string][]string{} // workspace → its rows (all of them)
	copiedOf := map[string][]string{}
	for id, w := range f.rows {
		if w.wsID == "" {
			continue
		}
		rowsOf[w.wsID] = append(rowsOf[w.wsID], id)
		if w.reason == "" {
			copiedOf[w.wsID] = append(copiedOf[w.wsID], id)
		}
	}

	// A sample larger than the workspaces with memories is all of them.
	got := runMain(t, env, "-verify", "-json", "-verify-sample", strconv.Itoa(len(rowsOf)+5))
	s := decodeSummary(t, got.stdout)
	if got.code != ExitOK || len(s.SampledWorkspaces) != len(rowsOf) || s.WorkspacesWithMemories != len(rowsOf) || *s.Verified != f.counts().copy {
		t.Fatalf("sample of all: exit %d, %d of %d sampled, verified %v of %d", got.code, len(s.SampledWorkspaces), s.WorkspacesWithMemories, deref(s.Verified), f.counts().copy)
	}

	// Delete one copied row of every workspace: any sample that holds a copied
	// row must find its deletion, and only the sampled workspaces' rows are read.
	for _, ids := range copiedOf {
		p.forget(t, f.rows[ids[0]].namespace, ids[0])
	}
	seen := map[string]bool{}
	for range 8 {
		got := runMain(t, env, "-verify-sample", "1", "-json") // alone, it implies -verify
		s := decodeSummary(t, got.stdout)
		if len(s.SampledWorkspaces) != 1 || rowsOf[s.SampledWorkspaces[0]] == nil || s.Mode != Verify {
			t.Fatalf("sampled %q in mode %s, want one workspace that has memories", s.SampledWorkspaces, s.Mode)
		}
		ws := s.SampledWorkspaces[0]
		seen[ws] = true
		wantFailed, wantCode := int64(0), ExitOK
		if len(copiedOf[ws]) > 0 {
			wantFailed, wantCode = 1, ExitFailed
		}
		if got.code != wantCode || s.Scanned != int64(len(rowsOf[ws])) || s.Failed != wantFailed ||
			*s.Verified != int64(len(copiedOf[ws]))-wantFailed {
			t.Fatalf("sample %s: exit %d scanned %d verified %v failed %d; want exit %d, %d rows, %d failed",
				ws, got.code, s.Scanned, deref(s.Verified), s.Failed, wantCode, len(rowsOf[ws]), wantFailed)
		}
	}
	if len(seen) < 2 {
		t.Fatalf("8 samples of 1 among %d workspaces all chose %v: not random", len(rowsOf), seen)
	}
	got = runMain(t, env, "-verify", "-verify-sample", "3")
	if !strings.Contains(got.stdout, "\nsample workspaces=3 of="+strconv.Itoa(len(rowsOf))+" ids=") {
		t.Fatalf("no sample line in:\n%s", got.stdout)
	}
}
