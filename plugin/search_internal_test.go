package plugin

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// A filtered vector query returns limit rows whichever path the scope's size
// picks. On the HNSW path that is pgvector's iterative scan: with iterative
// scans switched off on the same query the filter starves the result.
func TestIterativeIndexScansFillTheLimitOfAFilteredVectorQuery(t *testing.T) {
	const dim = 32
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc := openService(t, ctx, dim)

	rng := rand.New(rand.NewPCG(3, 4))
	vec := func() []float32 { return randomVector(rng, dim) }
	// A tenth of the rows in another namespace, a tenth of the rest of
	// another kind, and 30 rows in a namespace of their own.
	for b := 0; b < 8; b++ {
		items := make([]memoryInput, 500)
		for i := range items {
			n := b*500 + i
			items[i] = memoryInput{ID: newUUID(), Namespace: []string{"workspace:a", "workspace:b"}[min(n%10, 1)],
				Content: fmt.Sprint("memory ", n), Kind: "fact", Source: "agent", Embedding: vec()}
			switch {
			case n%10 == 1:
				items[i].Kind = "summary"
			case n%133 == 7:
				items[i].Namespace = "workspace:few"
			}
		}
		if err := svc.store.commitBatch(ctx, items); err != nil {
			t.Fatal(err)
		}
	}
	waitVectorIndex(t, svc)
	if _, err := svc.store.pool.Exec(ctx, "ANALYZE "+svc.store.recs+"; ANALYZE "+svc.store.vecs); err != nil {
		t.Fatal(err)
	}
	// A scope larger than exactScanMax is served by the HNSW index, where a
	// filter that drops rows needs iterative scans to fill the limit; a
	// namespace with few rows among many is read exactly through its btree,
	// which is complete either way.
	tests := []struct {
		name    string
		plan    searchPlan
		viaHNSW bool
	}{
		{"a kinds filter in a large namespace needs iterative scans", searchPlan{namespaces: []string{"workspace:b"}, kinds: []string{"fact"}, limit: 100, vector: vec()}, true},
		{"a namespace with few rows among many is found through its btree", searchPlan{namespaces: []string{"workspace:few"}, limit: 20, vector: vec()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := svc.store.pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			svc.store.exactScanMax = defaultExactScanMax
			if tt.viaHNSW {
				// The table is small: its size would pick the exact path,
				// and the planner would take a sequential scan over the
				// HNSW index for 4000 rows.
				svc.store.exactScanMax = 0
				if _, err := conn.Exec(ctx, "SET enable_seqscan = off"); err != nil {
					t.Fatal(err)
				}
				defer conn.Exec(context.Background(), "RESET enable_seqscan")
			}
			got, err := svc.store.search(ctx, conn, tt.plan)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.plan.limit {
				t.Fatalf("with iterative scans: %d rows; want %d", len(got), tt.plan.limit)
			}
			if _, err := conn.Exec(ctx, "SET hnsw.iterative_scan = off"); err != nil {
				t.Fatal(err)
			}
			defer conn.Exec(context.Background(), "SET hnsw.iterative_scan = relaxed_order")
			starved, err := svc.store.search(ctx, conn, tt.plan)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.viaHNSW && len(starved) >= tt.plan.limit:
				t.Fatalf("without iterative scans the query still returned %d rows: the HNSW index was not used, so this test proves nothing", len(starved))
			case !tt.viaHNSW && len(starved) != tt.plan.limit:
				t.Fatalf("without iterative scans: %d rows; the btree path should not need them", len(starved))
			}
			t.Logf("without iterative scans: %d rows, with: %d", len(starved), len(got))
		})
	}
}

func TestTsqueryTextQuotesEveryWord(t *testing.T) {
	got := tsqueryText([]string{"it's", `a\b`, "x:*A", "&|!"})
	want := `'it''s' | 'a\\b' | 'x:*A' | '&|!'`
	if got != want {
		t.Fatalf("got %s; want %s", got, want)
	}
}
