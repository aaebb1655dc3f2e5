package backfill

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentplatform/tenant-init/internal/pgtest"
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
				// The plugin indexes the copied vectors in the background
				// (HNSW off the write path): how fast, over at most 3 minutes.
				b.ReportMetric(indexRate(b, f.url, 3*time.Minute), "indexed/s")
			}
		})
	}
}

// indexRate watches the plugin's background vector indexer for at most d,
// or until its queue is empty and its HNSW index valid (a rebuild empties
// the queue first, then builds the index), and returns the memories it
// indexed per second.
func indexRate(b *testing.B, url string, d time.Duration) float64 {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	state := func() (queued int, valid bool) {
		if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM memory_plugin.memory_vector_queue),
			coalesce((SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('memory_plugin.memory_vectors_embedding_idx')), false)`).Scan(&queued, &valid); err != nil {
			b.Fatal(err)
		}
		return queued, valid
	}
	start := time.Now()
	first, valid := state()
	last := first
	for (last > 0 || !valid) && time.Since(start) < d {
		time.Sleep(250 * time.Millisecond)
		last, valid = state()
	}
	b.Logf("vector index: %d queued after the copy, %d after %v, index valid: %v", first, last, time.Since(start).Round(time.Second), valid)
	if !valid {
		return 0 // still being rebuilt: nothing searchable through it yet
	}
	return float64(first-last) / time.Since(start).Seconds()
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
