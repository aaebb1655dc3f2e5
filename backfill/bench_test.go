package backfill

import (
	"testing"
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
