package plugin

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/pgtest"
)

// The HNSW index path really is taken for a filtered vector query, and it is
// pgvector's iterative scan that makes it return limit rows: with iterative
// scans switched off on the same query the filter starves the result.
func TestIterativeIndexScansFillTheLimitOfAFilteredVectorQuery(t *testing.T) {
	const dim = 32
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc, err := Open(ctx, Config{DatabaseURL: pgtest.New(t), EmbeddingDim: dim})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()

	rng := rand.New(rand.NewPCG(3, 4))
	vec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = rng.Float32() - 0.5
		}
		return v
	}
	// Half the rows in another namespace, a tenth of the rest of another kind:
	// not selective enough for the planner to prefer an exact scan.
	for b := 0; b < 8; b++ {
		items := make([]memoryInput, 500)
		for i := range items {
			n := b*500 + i
			items[i] = memoryInput{ID: newUUID(), Namespace: []string{"workspace:a", "workspace:b"}[min(n%10, 1)],
				Content: fmt.Sprint("memory ", n), Kind: "fact", Source: "agent", Embedding: vec()}
			if n%10 == 1 {
				items[i].Kind = "summary"
			}
		}
		if _, err := svc.store.commitBatch(ctx, items); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.store.pool.Exec(ctx, "ANALYZE "+svc.store.recs); err != nil {
		t.Fatal(err)
	}
	plan := searchPlan{namespaces: []string{"workspace:b"}, kinds: []string{"fact"}, limit: 100, vector: vec()}

	conn, err := svc.store.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	got, err := svc.store.search(ctx, conn, plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != plan.limit {
		t.Fatalf("with iterative scans: %d rows; want %d", len(got), plan.limit)
	}
	if _, err := conn.Exec(ctx, "SET hnsw.iterative_scan = off"); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.Background(), "RESET hnsw.iterative_scan")
	starved, err := svc.store.search(ctx, conn, plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(starved) >= plan.limit {
		t.Fatalf("without iterative scans the query still returned %d rows: the HNSW index was not used, so this test proves nothing", len(starved))
	}
	t.Logf("without iterative scans: %d rows, with: %d", len(starved), len(got))
}
