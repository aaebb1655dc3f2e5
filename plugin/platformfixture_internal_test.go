package plugin

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
	pgxvector "github.com/pgvector/pgvector-go/pgx"

	"github.com/agentplatform/tenant-init/pluginbench"
)

// platformNamespaces of the fixture: every kind, metadata objects, a
// namespace without metadata, and one whose metadata some writer made an
// array.
var platformNamespaces = []struct{ name, kind, metadata string }{
	{"workspace:5d1c8b8e-0d0e-4b8e-9a51-3f2f7c1a0001", "workspace", `{"owner": "alice", "tier": 2}`},
	{"workspace:5d1c8b8e-0d0e-4b8e-9a51-3f2f7c1a0002", "workspace", ""},
	{"team:5d1c8b8e-0d0e-4b8e-9a51-3f2f7c1a0003", "team", `{"name": "infra"}`},
	{"org:5d1c8b8e-0d0e-4b8e-9a51-3f2f7c1a0004", "org", `{}`},
	{"custom:legacy-notes", "custom", `["not", "an", "object"]`},
}

// platformRow is one memory of the fixture as the platform's plugin left it.
type platformRow struct {
	id, namespace, content, kind, source string
	expiresAt                            *time.Time
	propagation                          string // jsonb text, "" for null
	pin                                  bool
	foreign                              []float32 // the 1536-d vector, or nil
	createdAt                            time.Time
}

// loadPlatformFixture creates the platform plugin's tables with pgvector in
// vectorSchema and n memories: some pinned, some expired, some with 1536-d
// embeddings, most with propagation, one with an array for propagation.
func loadPlatformFixture(t testing.TB, dbURL, vectorSchema string, n int) []platformRow {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, pluginbench.PlatformSchema(vectorSchema)); err != nil {
		t.Fatalf("creating the platform's tables: %v", err)
	}
	if err := pgxvector.RegisterTypes(ctx, conn); err != nil {
		t.Fatal(err)
	}
	for _, ns := range platformNamespaces {
		var md any
		if ns.metadata != "" {
			md = ns.metadata
		}
		if _, err := conn.Exec(ctx, "INSERT INTO memory_namespaces (name, kind, metadata, created_at) VALUES ($1, $2, $3, '2025-06-01T00:00:00Z')",
			ns.name, ns.kind, md); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	topics := []string{"billing", "deploy", "backup", "oncall", "kubernetes", "invoice", "certificate", "postgres", "latency", "firewall"}
	kinds, sources := []string{"fact", "summary", "checkpoint"}, []string{"agent", "runtime", "user"}
	base := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]platformRow, n)
	copyRows := make([][]any, n)
	for i := range rows {
		r := platformRow{
			id:        newUUID(),
			namespace: platformNamespaces[i%len(platformNamespaces)].name,
			content: fmt.Sprintf("memory %d: the %s runbook says step %d uses token%05d",
				i, topics[i%len(topics)], i%7, i),
			kind:      kinds[i%3],
			source:    sources[(i/3)%3],
			pin:       i%50 == 7,
			createdAt: base.Add(time.Duration(i) * time.Minute),
		}
		switch {
		case i%40 == 3:
			past := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
			r.expiresAt = &past
		case i%40 == 4:
			future := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
			r.expiresAt = &future
		}
		if i%4 != 0 {
			r.propagation = fmt.Sprintf(`{"scope": "team", "hops": %d}`, i%3)
		}
		if i == 5 {
			r.propagation = `[1, 2]` // stored by some writer before anyone checked
		}
		if i%10 == 1 {
			r.foreign = randomVector(rng, 1536)
		}
		rows[i] = r
		var prop, emb any
		if r.propagation != "" {
			prop = r.propagation
		}
		if r.foreign != nil {
			emb = pgvector.NewVector(r.foreign)
		}
		copyRows[i] = []any{r.id, r.namespace, r.content, r.kind, r.source, r.expiresAt, prop, r.pin, emb, r.createdAt}
	}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"memory_plugin", "memory_records"},
		[]string{"id", "namespace", "content", "kind", "source", "expires_at", "propagation", "pin", "embedding", "created_at"},
		pgx.CopyFromRows(copyRows))
	if err != nil {
		t.Fatalf("loading the platform's memories: %v", err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE memory_plugin.memory_records"); err != nil {
		t.Fatal(err)
	}
	return rows
}
