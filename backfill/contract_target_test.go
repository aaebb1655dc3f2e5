package backfill

// -apply and -verify against a plugin with only the contract's capabilities
// (the platform's own, as some operators run it): contract_harness_test.go.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestApplyAndVerifyIntoAPluginWithOnlyTheContractsCapabilities(t *testing.T) {
	// 400 bulk rows put over 100 memories in orgA's org namespace: -verify
	// must then search by content, not only list.
	f := newFixture(t, allColumns, 400)
	p := startPlugin(t, f.url, "")
	cp := newContractPlugin(t, p)
	env := map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": cp.URL}
	want := f.counts()

	got := runMain(t, env, "-apply", "-json")
	s := decodeSummary(t, got.stdout)
	if got.code != ExitOK || s.Copied == nil || *s.Copied != want.copy || s.Failed != 0 || s.WritePath != "single" {
		t.Fatalf("apply: exit %d copied %v failed %d path %q error %q: %v\n%s", got.code, deref(s.Copied), s.Failed, s.WritePath, s.Error, s.FailedRows, got.stderr)
	}
	if !slices.Equal(s.CannotKeep, []string{"created_at", "metadata"}) {
		t.Fatalf("cannot_keep %q, want [created_at metadata]", s.CannotKeep)
	}
	if !strings.Contains(got.stderr, "memory-backfill: note: the plugin does not advertise created_at or metadata: the copies cannot keep it") {
		t.Fatalf("no note on stderr about what the plugin cannot keep:\n%s", got.stderr)
	}
	checkCopied(t, f, p, contractFields)
	if n := cp.calledWith("POST /v1/memories/batch") + cp.calledWith("POST /v1/memories/lookup"); n != 0 {
		t.Fatalf("%d batch or lookup requests to a plugin that advertises neither", n)
	}
	if cp.extensions != 0 {
		t.Fatalf("%d commits carried created_at or metadata to a plugin that advertises neither", cp.extensions)
	}
	if len(cp.puts) != len(want.namespaces) {
		t.Fatalf("%d namespaces PUT, want the %d the rows go to", len(cp.puts), len(want.namespaces))
	}
	for ns, n := range cp.puts {
		if n != 1 || want.namespaces[ns] == 0 {
			t.Fatalf("namespace %s PUT %d times; want once, and only namespaces rows go to", ns, n)
		}
	}

	// Again, as lines: the same state, and the cannot_keep line.
	got = runMain(t, env, "-apply")
	for _, line := range []string{
		"cannot_keep created_at,metadata: not advertised by the plugin; each copy's created_at is the time of the copy, and no copy records its v1 origin (scope, workspace, v1 namespace)\n",
		fmt.Sprintf("summary mode=apply scanned=%d copied=%d skipped=%d failed=0 elapsed=", want.scanned, want.copy, want.skipped),
	} {
		if got.code != ExitOK || !strings.Contains(got.stdout, "\n"+line) {
			t.Fatalf("second apply: exit %d, want the line %q in:\n%s", got.code, line, got.stdout)
		}
	}
	checkCopied(t, f, p, contractFields)

	got = runMain(t, env, "-verify", "-json")
	s = decodeSummary(t, got.stdout)
	if got.code != ExitOK || s.Verified == nil || *s.Verified != want.copy || s.Failed != 0 {
		t.Fatalf("verify: exit %d verified %v failed %d: %v", got.code, deref(s.Verified), s.Failed, s.FailedRows)
	}
	if cp.queries == 0 {
		t.Fatalf("verify listed every namespace and never searched by content: the fixture no longer has a namespace of 100 or more")
	}
	if s.CannotKeep != nil {
		t.Fatalf("verify reports cannot_keep %q: only a copy loses anything", s.CannotKeep)
	}

	// Tamper in a small namespace and in the large one: verify through search
	// must see each change.
	var small, large []string
	for _, id := range f.copyIDs() {
		if want.namespaces[f.rows[id].namespace] < 50 {
			small = append(small, id)
		} else {
			large = append(large, id)
		}
	}
	changed, deleted, deletedLarge := small[0], small[1], large[0]
	p.commit(t, f.rows[changed].namespace, changed, "edited after the backfill")
	p.forget(t, f.rows[deleted].namespace, deleted)
	p.forget(t, f.rows[deletedLarge].namespace, deletedLarge)
	got = runMain(t, env, "-verify")
	for _, line := range []string{
		fmt.Sprintf("failed %s namespace=%s reason=content_mismatch detail=\"sha256 source ", changed, f.rows[changed].namespace),
		fmt.Sprintf("failed %s namespace=%s reason=missing detail=\"not found by search in its namespace\"\n", deleted, f.rows[deleted].namespace),
		fmt.Sprintf("failed %s namespace=%s reason=missing detail=\"not found by search in its namespace\"\n", deletedLarge, f.rows[deletedLarge].namespace),
		fmt.Sprintf("summary mode=verify scanned=%d verified=%d skipped=%d failed=3 elapsed=", want.scanned, want.copy-3, want.skipped),
	} {
		if got.code != ExitFailed || !strings.Contains(got.stdout, "\n"+line) {
			t.Fatalf("verify after tampering: exit %d, want 1 and %q in:\n%s", got.code, line, got.stdout)
		}
	}
}
