package backfill

import (
	"testing"

	"github.com/agentplatform/tenant-init/pgtest"
)

// BenchmarkDryRun100k reads and maps 100,000 v1 rows without a plugin: the
// backfill's own cost per row, to set beside BenchmarkApply100k.
func BenchmarkDryRun100k(b *testing.B) {
	f := newFixture(b, noOptionalCols, 100000-35)
	for range b.N {
		got := runMain(b, map[string]string{"DATABASE_URL": f.url}, "-dry-run", "-json")
		s := decodeSummary(b, got.stdout)
		if got.code != ExitOK || *s.WouldCopy != f.counts().copy {
			b.Fatalf("exit %d would_copy %v: %s", got.code, deref(s.WouldCopy), got.stderr)
		}
		b.ReportMetric(float64(s.Scanned)/s.ElapsedSeconds, "rows/s")
	}
}

// BenchmarkApply100k copies 100,000 v1 rows into a fresh real plugin, through
// the batch endpoint and through one commit per row (the plugin's batch
// capability hidden by a proxy), and reports rows/s. Recorded in
// docs/benchmarks.md, never asserted. Run with -benchtime 1x: one iteration
// is a whole migration.
func BenchmarkApply100k(b *testing.B) {
	for _, path := range []string{"batch", "single"} {
		b.Run(path, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				f := newFixture(b, noOptionalCols, 100000-35)
				p := startPlugin(b, f.url, "")
				target := p.URL
				if path == "single" {
					px := newProxy(b, p)
					px.hide = []string{"batch"}
					target = px.URL
				}
				env := map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": target}
				b.StartTimer()
				got := runMain(b, env, "-apply", "-json")
				b.StopTimer()
				s := decodeSummary(b, got.stdout)
				if got.code != ExitOK || *s.Copied != f.counts().copy {
					b.Fatalf("exit %d copied %v: %s", got.code, deref(s.Copied), got.stderr)
				}
				b.ReportMetric(float64(*s.Copied)/s.ElapsedSeconds, "rows/s")
			}
		})
	}
}

// BenchmarkContractTarget5k sets a plugin with only the contract's
// capabilities (contract_harness_test.go) beside ours on 5,000 rows: -apply
// through batches against one PUT-first commit per row, and -verify by lookup
// against through search, on the same plugin's content. Reports rows/s; run
// with -benchtime 1x. Recorded in docs/benchmarks.md, never asserted.
func BenchmarkContractTarget5k(b *testing.B) {
	for range b.N {
		b.StopTimer()
		f := newFixture(b, noOptionalCols, 5000-35)
		want := f.counts().copy
		ours := startPlugin(b, f.url, "")
		// The contract-only plugin has its own database: two plugins, one schema name.
		contract := newContractPlugin(b, startPlugin(b, pgtest.New(b), "")).URL
		for _, run := range []struct {
			name, url, mode string
		}{
			{"apply/batch", ours.URL, "-apply"},
			{"apply/contract-only", contract, "-apply"},
			{"verify/lookup", ours.URL, "-verify"},
			{"verify/search", contract, "-verify"},
		} {
			got := runMain(b, map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": run.url}, run.mode, "-json")
			s := decodeSummary(b, got.stdout)
			done := s.Copied
			if run.mode == "-verify" {
				done = s.Verified
			}
			if got.code != ExitOK || *done != want {
				b.Fatalf("%s: exit %d, %v of %d rows: %s", run.name, got.code, deref(done), want, got.stderr)
			}
			b.Logf("%s: %.1f rows/s (%d rows in %s)", run.name, float64(*done)/s.ElapsedSeconds, *done, s.Elapsed)
		}
	}
}
