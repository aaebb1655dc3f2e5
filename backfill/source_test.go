package backfill

import (
	"context"
	"strings"
	"testing"

	"github.com/agentplatform/tenant-init/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestPagesWalkThePrimaryKeyIndex(t *testing.T) {
	// A page must cost an index range scan, not a sort of the whole table:
	// otherwise a migration is quadratic in the table's size. The plan is the
	// check (timings are benchmarks' business).
	f := newFixture(t, allColumns, fixtureBulk)
	ctx := context.Background()
	src, err := OpenSource(ctx, f.url)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	conn := pgtest.Connect(t, f.url)
	for _, after := range []string{"00000000-0000-0000-0000-000000000000", "80000000-0000-0000-0000-000000000000"} {
		rows, err := conn.Query(ctx, "EXPLAIN "+src.pageSQL(false), after, DefaultBatchSize)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		if !strings.Contains(plan, "Index Scan using agent_memories_pkey") || strings.Contains(plan, "Sort") {
			t.Fatalf("the page after %s is not an index range scan:\n%s", after, plan)
		}
	}
}
