package preflight

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// MinSharedBuffers is the least shared_buffers the memory plugin's figures in
// docs/benchmarks.md hold with: below it even a small tenant's HNSW index and
// table compete for the buffer cache with every other database of the server,
// and recall reads pages from the OS (or the disk) on every query.
const MinSharedBuffers = 256 << 20

// checkDatabaseSettings warns, and never fails, when the server's
// shared_buffers are far below what the plugin needs: under MinSharedBuffers,
// or under the size of the memory tables with their indexes: memory_records,
// and, where the plugin has migrated, memory_vectors (which holds the HNSW
// index since migration 3, and the scope btree since 4: half the total) and
// memory_vector_queue, of the schema whose tables are largest (the plugin's,
// or the platform plugin's it will adopt; the check does not know the
// sidecar's MEMORY_PLUGIN_SCHEMA). Past that size the HNSW index no longer
// fits and recall slows several-fold (docs/memory-plugin.md, "The database
// it needs"). The boot would still succeed, hence a warning.
func checkDatabaseSettings(ctx context.Context, conn *pgx.Conn) Result {
	var sharedBuffers, tableBytes int64
	err := conn.QueryRow(ctx, `SELECT pg_size_bytes(current_setting('shared_buffers')),
		coalesce((SELECT max(total) FROM (
			SELECT sum(pg_total_relation_size(c.oid))::bigint AS total
			FROM pg_class c
			WHERE c.relname IN ('memory_records', 'memory_vectors', 'memory_vector_queue') AND c.relkind IN ('r', 'p')
			GROUP BY c.relnamespace
			HAVING bool_or(c.relname = 'memory_records')) s), 0)`).Scan(&sharedBuffers, &tableBytes)
	if err != nil {
		return warn(CheckDatabaseSettings, "", "could not read shared_buffers and the memory tables' size: %v", err)
	}
	return judgeSettings(sharedBuffers, tableBytes)
}

func judgeSettings(sharedBuffers, tableBytes int64) Result {
	want := max(MinSharedBuffers, tableBytes+tableBytes/4)
	hint := fmt.Sprintf("set shared_buffers to at least %s (the memory tables and indexes with a quarter's headroom, and no less than %s) in postgresql.conf and restart the server; see docs/memory-plugin.md, \"The database it needs\"", mib(want), mib(MinSharedBuffers))
	switch {
	case sharedBuffers < MinSharedBuffers:
		return warn(CheckDatabaseSettings, hint, "shared_buffers is %s, below the %s the memory plugin's recall figures need (memory tables: %s)", mib(sharedBuffers), mib(MinSharedBuffers), mib(tableBytes))
	case sharedBuffers < tableBytes:
		return warn(CheckDatabaseSettings, hint, "shared_buffers is %s, smaller than the memory tables and indexes (%s): the vector index no longer stays in memory and recall slows several-fold", mib(sharedBuffers), mib(tableBytes))
	}
	return pass(CheckDatabaseSettings, "shared_buffers is %s; the memory tables and indexes take %s", mib(sharedBuffers), mib(tableBytes))
}

func mib(n int64) string { return fmt.Sprintf("%d MB", n>>20) }
