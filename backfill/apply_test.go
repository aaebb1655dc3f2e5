package backfill

// Stage 2: -apply and -verify against the real plugin.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/agentplatform/tenant-init/internal/pgtest"
)

// kept is what a plugin keeps of a copied row besides its namespace, content,
// kind and source.
type kept int

const (
	// everything: our plugin keeps created_at and metadata naming the v1 row.
	everything kept = iota
	// contractFields: a plugin with only the contract's capabilities keeps
	// neither; its records have no metadata.
	contractFields
)

// checkCopied fails unless the plugin holds exactly the fixture's copied rows,
// each once, in its namespace, with its content, and with what the target
// keeps: created_at and v1 origin, or no metadata.
func checkCopied(t *testing.T, f *fixture, p *plugin, keeps kept) map[string]string {
	t.Helper()
	want := f.counts()
	if rows, distinct := p.records(t); rows != want.copy || distinct != want.copy {
		t.Fatalf("the plugin holds %d records (%d distinct ids), want %d", rows, distinct, want.copy)
	}
	state := p.state(t, f.copyIDs())
	if int64(len(state)) != want.copy {
		t.Fatalf("lookup finds %d of %d copied rows", len(state), want.copy)
	}
	for id, raw := range state {
		var m stored
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatal(err)
		}
		w := f.rows[id]
		if m.Namespace != w.namespace || m.Content != w.content || m.Kind != "fact" || m.Source != "agent" {
			t.Fatalf("plugin holds %s as %s, want namespace %s, content %q", id, raw, w.namespace, w.content)
		}
		if keeps == contractFields {
			if m.Metadata != nil {
				t.Fatalf("plugin holds %s as %s, want no metadata", id, raw)
			}
			continue
		}
		md := m.Metadata
		if md["source"] != "v1-backfill" || md["v1_scope"] != w.scope || md["v1_workspace_id"] != w.wsID ||
			(w.v1ns != "" && md["v1_namespace"] != w.v1ns) || (w.v1ns == "" && md["v1_namespace"] != nil) {
			t.Fatalf("plugin holds %s as %s, want scope %s, workspace %s, v1 namespace %q in its metadata",
				id, raw, w.scope, w.wsID, w.v1ns)
		}
		if w.createdAt != nil && !m.CreatedAt.Equal(*w.createdAt) {
			t.Fatalf("%s: created_at %s, want %s", id, m.CreatedAt, w.createdAt)
		}
	}
	return state
}

func TestApplyTwiceGivesTheSameState(t *testing.T) {
	f := newFixture(t, allColumns, fixtureBulk)
	p := startPlugin(t, f.url, "")
	v1 := checksum(t, f.url)
	env := map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": p.URL}
	want := f.counts()

	var states []map[string]string
	for run := 1; run <= 2; run++ {
		got := runMain(t, env, "-apply", "-json")
		s := decodeSummary(t, got.stdout)
		if got.code != ExitOK || s.Copied == nil || *s.Copied != want.copy || s.Skipped != want.skipped || s.Failed != 0 ||
			s.Scanned != want.scanned || s.WritePath != "batch" || s.WouldCopy != nil {
			t.Fatalf("run %d: exit %d, copied %v skipped %d failed %d path %q error %q; want copied %d skipped %d\n%s",
				run, got.code, deref(s.Copied), s.Skipped, s.Failed, s.WritePath, s.Error, want.copy, want.skipped, got.stderr)
		}
		t.Logf("run %d: %s", run, strings.TrimSpace(got.stderr))
		if len(s.SkippedRows) != int(want.skipped) || len(s.FailedRows) != 0 {
			t.Fatalf("run %d: %d skipped rows listed, %d failed", run, len(s.SkippedRows), len(s.FailedRows))
		}
		states = append(states, checkCopied(t, f, p, everything))
	}
	if !maps.Equal(states[0], states[1]) {
		t.Fatalf("the second apply changed the plugin's state")
	}
	if checksum(t, f.url) != v1 {
		t.Fatalf("-apply changed the v1 tables")
	}
}

func TestApplyThroughSingleCommitsWhenThePluginHasNoBatch(t *testing.T) {
	f := newFixture(t, noOptionalCols, 300)
	p := startPlugin(t, f.url, "")
	px := newProxy(t, p)
	px.hide = []string{"batch"}
	env := map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": px.URL}
	want := f.counts()
	var states []map[string]string
	for run := 1; run <= 2; run++ {
		got := runMain(t, env, "-apply", "-concurrency", "3", "-batch-size", "40")
		wantLine := fmt.Sprintf("summary mode=apply scanned=%d copied=%d skipped=%d failed=0 elapsed=", want.scanned, want.copy, want.skipped)
		if got.code != ExitOK || !strings.Contains(got.stdout, "\n"+wantLine) {
			t.Fatalf("run %d: exit %d, want the line %q in:\n%s\n%s", run, got.code, wantLine, got.stdout, got.stderr)
		}
		states = append(states, checkCopied(t, f, p, everything))
	}
	if !maps.Equal(states[0], states[1]) {
		t.Fatalf("the second apply changed the plugin's state")
	}
	if n := px.count("/v1/memories/batch"); n != 0 {
		t.Fatalf("%d batch requests to a plugin without the batch capability", n)
	}
	if n := px.count("/v1/namespaces/workspace:" + f.ws["orgA"] + "/memories"); n == 0 {
		t.Fatalf("no single commit seen")
	}
}

func TestApplyRetriesTransientErrorsAndSplitsBatchesThatAreTooLarge(t *testing.T) {
	f := newFixture(t, noOptionalCols, 2000)
	p := startPlugin(t, f.url, "")
	px := newProxy(t, p)
	var unavailable, tooLarge int
	px.intercept = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		if r.URL.Path != "/v1/memories/batch" {
			return false
		}
		if len(body) > 16<<10 { // a proxy's body limit in front of the plugin
			px.mu.Lock()
			tooLarge++
			px.mu.Unlock()
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(w, `{"code":"bad_request","message":"body too large"}`)
			return true
		}
		px.mu.Lock()
		defer px.mu.Unlock()
		if unavailable < 3 { // a plugin restarting
			unavailable++
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"code":"unavailable","message":"database restarting"}`)
			return true
		}
		return false
	}
	got := runMain(t, map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": px.URL}, "-apply", "-json")
	s := decodeSummary(t, got.stdout)
	if got.code != ExitOK || s.Failed != 0 || *s.Copied != f.counts().copy {
		t.Fatalf("exit %d failed %d copied %v error %q: %v", got.code, s.Failed, deref(s.Copied), s.Error, s.FailedRows)
	}
	checkCopied(t, f, p, everything)
	if unavailable != 3 || tooLarge == 0 {
		t.Fatalf("%d 503s and %d 413s answered, want 3 and some", unavailable, tooLarge)
	}
}

func TestApplyReportsRowsThePluginRefuses(t *testing.T) {
	for _, path := range []string{"batch", "single"} {
		t.Run("through "+path+" commits", func(t *testing.T) {
			f := newFixture(t, noOptionalCols, 200)
			p := startPlugin(t, f.url, "")
			px := newProxy(t, p)
			if path == "single" {
				px.hide = []string{"batch"}
			}
			// One copied row's content is longer than the plugin accepts
			// (256 KiB): a v1 row may hold any text, the plugin answers 400.
			refused := f.copyIDs()[0]
			conn := pgtest.Connect(t, f.url)
			if _, err := conn.Exec(context.Background(), "UPDATE agent_memories SET content = repeat('long memory ', 30000) WHERE id = $1", refused); err != nil {
				t.Fatal(err)
			}
			got := runMain(t, map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": px.URL}, "-apply")
			want := f.counts()
			wantFail := fmt.Sprintf("failed %s namespace=%s reason=bad_request detail=", refused, f.rows[refused].namespace)
			wantLine := fmt.Sprintf("summary mode=apply scanned=%d copied=%d skipped=%d failed=1 elapsed=", want.scanned, want.copy-1, want.skipped)
			if got.code != ExitFailed || !strings.Contains(got.stdout, "\n"+wantFail) || !strings.Contains(got.stdout, "\n"+wantLine) {
				t.Fatalf("exit %d; want 1, %q and %q in:\n%s", got.code, wantFail, wantLine, got.stdout)
			}
			if st := p.state(t, []string{refused}); st[refused] != "" {
				t.Fatalf("the refused row is in the plugin: %.200s", st[refused])
			}
		})
	}
}

func TestVerifyPassesAfterApplyAndCatchesChangedDeletedAndMovedRows(t *testing.T) {
	f := newFixture(t, allColumns, 1000)
	p := startPlugin(t, f.url, "verify-test-token-0123456789")
	env := map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": p.URL, "MEMORY_PLUGIN_TOKEN": "verify-test-token-0123456789"}
	want := f.counts()
	if got := runMain(t, env, "-apply"); got.code != ExitOK {
		t.Fatalf("apply: exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
	got := runMain(t, env, "-verify", "-json", "-batch-size", "333")
	s := decodeSummary(t, got.stdout)
	if got.code != ExitOK || s.Verified == nil || *s.Verified != want.copy || s.Failed != 0 || s.Skipped != want.skipped {
		t.Fatalf("verify after apply: exit %d verified %v failed %d skipped %d: %v", got.code, deref(s.Verified), s.Failed, s.Skipped, s.FailedRows)
	}

	ids := f.copyIDs()
	changed, deleted, moved := ids[0], ids[1], ids[2]
	p.commit(t, f.rows[changed].namespace, changed, "edited after the backfill")
	p.forget(t, f.rows[deleted].namespace, deleted)
	p.forget(t, f.rows[moved].namespace, moved)
	p.commit(t, "custom:elsewhere", moved, f.rows[moved].content)

	got = runMain(t, env, "-verify")
	if got.code != ExitFailed {
		t.Fatalf("verify after tampering: exit %d, want 1\n%s", got.code, got.stdout)
	}
	for _, line := range []string{
		fmt.Sprintf("failed %s namespace=%s reason=content_mismatch detail=\"sha256 source ", changed, f.rows[changed].namespace),
		fmt.Sprintf("failed %s namespace=%s reason=missing\n", deleted, f.rows[deleted].namespace),
		fmt.Sprintf("failed %s namespace=%s reason=namespace_mismatch detail=\"plugin has it in custom:elsewhere\"\n", moved, f.rows[moved].namespace),
		fmt.Sprintf("summary mode=verify scanned=%d verified=%d skipped=%d failed=3 elapsed=", want.scanned, want.copy-3, want.skipped),
	} {
		if !strings.Contains(got.stdout, "\n"+line) {
			t.Fatalf("verify output lacks %q:\n%s", line, got.stdout)
		}
	}
	if n := strings.Count(got.stdout, "\nfailed "); n != 3 {
		t.Fatalf("%d failed lines, want 3", n)
	}
}

// progressCopied reads copied=N from a progress line.
var progressCopied = regexp.MustCompile(`^progress mode=apply .* copied=(\d+) `)

func TestApplyKilledMidwayAndRunAgainEndsWithExactCounts(t *testing.T) {
	f := newFixture(t, allColumns, fixtureBulk)
	p := startPlugin(t, f.url, "")
	bin := binary(t, "memory-backfill")
	env := []string{"DATABASE_URL=" + f.url, "MEMORY_PLUGIN_URL=" + p.URL, "MEMORY_BACKFILL_PROGRESS_INTERVAL=1ms"}
	want := f.counts()

	// Small batches, one at a time: the kill lands while most rows are unwritten.
	cmd := exec.Command(bin, "-apply", "-batch-size", "20", "-concurrency", "1")
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	killed := false
	for lines.Scan() {
		m := progressCopied.FindStringSubmatch(lines.Text())
		if m == nil {
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n > 0 {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			break
		}
	}
	io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	if !killed {
		t.Fatalf("no progress line with copied>0 before the run ended: %v", err)
	}
	if ws, ok := err.(*exec.ExitError); !ok || ws.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("memory-backfill ended with %v, want killed by SIGKILL", err)
	}
	if rows, _ := p.records(t); rows == 0 || rows >= want.copy {
		t.Fatalf("after the kill the plugin holds %d of %d rows: the kill was not mid-apply", rows, want.copy)
	}

	again := exec.Command(bin, "-apply", "-json")
	again.Env = env
	out, err := again.Output()
	if err != nil {
		t.Fatalf("re-run: %v", err)
	}
	s := decodeSummary(t, string(out))
	if s.Failed != 0 || *s.Copied != want.copy || s.Skipped != want.skipped || s.Scanned != want.scanned {
		t.Fatalf("re-run copied %v skipped %d failed %d, want %d %d 0", deref(s.Copied), s.Skipped, s.Failed, want.copy, want.skipped)
	}
	checkCopied(t, f, p, everything)
	verify := exec.Command(bin, "-verify")
	verify.Env = env
	if out, err := verify.Output(); err != nil {
		t.Fatalf("verify after the re-run: %v\n%s", err, out)
	}
}
