package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentplatform/tenant-init/internal/pgtest"
	"github.com/agentplatform/tenant-init/plugin"
)

func openErr(dbURL string, cfg plugin.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg.DatabaseURL = dbURL
	svc, err := plugin.Open(ctx, cfg)
	if err == nil {
		svc.Close()
	}
	return err
}

func queryInt(t *testing.T, dbURL, sql string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestTwoPluginsMigratingOneDatabaseAtOnceBothBoot(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.New(t)
	const plugins = 4
	var wg sync.WaitGroup
	errs := make([]error, plugins)
	startLine := make(chan struct{})
	for i := range plugins {
		wg.Go(func() {
			<-startLine
			// Two schemas: they share the database-wide CREATE EXTENSION.
			errs[i] = openErr(dbURL, plugin.Config{EmbeddingDim: 8, Schema: []string{"memory_plugin", "memory_other"}[i%2]})
		})
	}
	close(startLine)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("plugin %d: %v", i, err)
		}
	}
	for _, schema := range []string{"memory_plugin", "memory_other"} {
		if n := queryInt(t, dbURL, "SELECT count(*) FROM "+schema+".schema_migrations WHERE version = 1"); n != 1 {
			t.Fatalf("migration 1 recorded %d times in %s", n, schema)
		}
	}
}

func TestARebootAppliesNothingTwice(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.New(t)
	if err := openErr(dbURL, plugin.Config{EmbeddingDim: 8}); err != nil {
		t.Fatal(err)
	}
	before := queryInt(t, dbURL, "SELECT count(*) FROM memory_plugin.schema_migrations")
	stamp := queryInt(t, dbURL, "SELECT extract(epoch FROM max(applied_at))::int FROM memory_plugin.schema_migrations")
	if err := openErr(dbURL, plugin.Config{EmbeddingDim: 8}); err != nil {
		t.Fatal(err)
	}
	if after := queryInt(t, dbURL, "SELECT count(*) FROM memory_plugin.schema_migrations"); after != before || before == 0 {
		t.Fatalf("%d migrations recorded after the first boot, %d after the second", before, after)
	}
	if again := queryInt(t, dbURL, "SELECT extract(epoch FROM max(applied_at))::int FROM memory_plugin.schema_migrations"); again != stamp {
		t.Fatal("a migration was re-applied on reboot")
	}
}

func TestTwoSchemasInOneDatabaseAreIndependent(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.New(t)
	a := serve(t, open(t, plugin.Config{DatabaseURL: dbURL, Schema: "mem_a", EmbeddingDim: 8}))
	b := serve(t, open(t, plugin.Config{DatabaseURL: dbURL, Schema: "mem_b", EmbeddingDim: 16}))
	a.commit(ws, "in schema a", nil)
	if got := b.search(map[string]any{"namespaces": []string{ws}}); len(got) != 0 {
		t.Fatalf("schema mem_b sees %v", contents(got))
	}
}

func TestAnotherEmbeddingDimensionIsRefusedAtBoot(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.New(t)
	if err := openErr(dbURL, plugin.Config{EmbeddingDim: 8}); err != nil {
		t.Fatal(err)
	}
	err := openErr(dbURL, plugin.Config{EmbeddingDim: 16})
	var dimErr *plugin.DimensionError
	if !errors.As(err, &dimErr) || dimErr.Stored != 8 || dimErr.Requested != 16 {
		t.Fatalf("got %v; want a *plugin.DimensionError 8 vs 16", err)
	}
	for _, want := range []string{"MEMORY_PLUGIN_EMBEDDING_DIM=16", "stores 8-dimensional", "re-embed", "MEMORY_PLUGIN_SCHEMA"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestADatabaseWithoutPgvectorIsAClearErrorSayingWhatToDo(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewWithoutPgvector(t)
	err := openErr(dbURL, plugin.Config{EmbeddingDim: 8})
	var pgvErr *plugin.PgvectorError
	if !errors.As(err, &pgvErr) {
		t.Fatalf("got %v; want a *plugin.PgvectorError", err)
	}
	u, _ := url.Parse(dbURL)
	dbName := strings.TrimPrefix(u.Path, "/")
	// PostgreSQL 15 says the control file is missing, later versions that
	// the extension "is not available": either is the server's own text.
	if !strings.Contains(err.Error(), "vector.control") && !strings.Contains(err.Error(), `extension "vector" is not available`) {
		t.Errorf("error lacks the server's reason:\n%v", err)
	}
	for _, want := range []string{"pgvector", dbName, "CREATE EXTENSION vector", "MEMORY_PLUGIN_DISABLE=1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans several lines:\n%v", err)
	}
}

// Least privilege: once pgvector exists, a role that may only create its own
// schema in the database boots; without the extension the same role gets the
// pgvector error naming the permission problem.
func TestARoleWithoutSuperuserBootsWhenPgvectorExists(t *testing.T) {
	t.Parallel()
	srv := pgtest.Shared(t)
	role := fmt.Sprintf("plugin_%d", time.Now().UnixNano())
	srv.Exec(t, "CREATE ROLE "+role+" LOGIN NOSUPERUSER")
	t.Cleanup(func() { srv.Exec(t, "DROP ROLE "+role) })

	asRole := func(dbURL string) string {
		u, _ := url.Parse(dbURL)
		u.User = url.User(role)
		return u.String()
	}
	grant := func(dbURL string) {
		u, _ := url.Parse(dbURL)
		srv.Exec(t, "GRANT CREATE ON DATABASE "+strings.TrimPrefix(u.Path, "/")+" TO "+role)
	}

	t.Run("without the extension the role is told what to do", func(t *testing.T) {
		dbURL := srv.CreateDatabase(t)
		grant(dbURL)
		err := openErr(asRole(dbURL), plugin.Config{EmbeddingDim: 8})
		var pgvErr *plugin.PgvectorError
		if !errors.As(err, &pgvErr) || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), "superuser") {
			t.Fatalf("got %v; want the pgvector error with the permission problem", err)
		}
	})
	t.Run("with the extension created by a superuser the role boots and serves", func(t *testing.T) {
		dbURL := srv.CreateDatabase(t)
		grant(dbURL)
		conn, err := pgx.Connect(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(context.Background(), "CREATE EXTENSION vector")
		conn.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		c := serve(t, open(t, plugin.Config{DatabaseURL: asRole(dbURL), EmbeddingDim: 8}))
		c.commit(ws, "written by a plain role", nil)
	})
}

// A database migrated by an older plugin gets the newer migrations, and
// only those, on the next boot.
func TestAnOlderSchemaIsBroughtUpToDate(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.New(t)
	if err := openErr(dbURL, plugin.Config{EmbeddingDim: 8}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	// Roll back to the state after migration 1, with a memory.
	_, err = conn.Exec(context.Background(), `DROP INDEX memory_plugin.memory_records_pinned_idx;
		DROP TABLE memory_plugin.memory_vectors, memory_plugin.memory_vector_queue;
		SET search_path = memory_plugin, public;
		CREATE INDEX memory_records_embedding_idx ON memory_plugin.memory_records USING hnsw (embedding vector_cosine_ops);
		INSERT INTO memory_plugin.memory_namespaces (name, kind) VALUES ('workspace:old', 'workspace');
		INSERT INTO memory_plugin.memory_records (id, namespace, content, kind, source, embedding)
			VALUES (gen_random_uuid(), 'workspace:old', 'an old memory', 'fact', 'agent', '[1,0,0,0,0,0,0,0]');
		DELETE FROM memory_plugin.schema_migrations WHERE version > 1`)
	conn.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := openErr(dbURL, plugin.Config{EmbeddingDim: 8}); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, dbURL, "SELECT count(*) FROM pg_indexes WHERE indexname = 'memory_records_pinned_idx'"); n != 1 {
		t.Fatalf("the pinned index exists %d times after the upgrade", n)
	}
	// Migration 3: the HNSW index moves to memory_vectors, and the memories
	// already there are queued for it (or, the indexer running, indexed).
	if n := queryInt(t, dbURL, "SELECT count(*) FROM pg_indexes WHERE indexname IN ('memory_records_embedding_idx', 'memory_vectors_embedding_idx')"); n != 1 {
		t.Fatalf("%d HNSW indexes after the upgrade; want memory_vectors' only", n)
	}
	if n := queryInt(t, dbURL, "SELECT (SELECT count(*) FROM memory_plugin.memory_vector_queue) + (SELECT count(*) FROM memory_plugin.memory_vectors)"); n != 1 {
		t.Fatalf("the old memory is queued or indexed %d times; want 1", n)
	}
	// Migration 4: memory_vectors holds each memory's namespace (the old
	// memory queued again), the full-text index the namespace too.
	if n := queryInt(t, dbURL, "SELECT count(*) FROM pg_indexes WHERE indexname IN ('memory_vectors_namespace_idx', 'memory_records_scoped_tsv_idx')"); n != 2 {
		t.Fatalf("%d of the two indexes of migration 4 after the upgrade", n)
	}
	if n := queryInt(t, dbURL, "SELECT count(*) FROM memory_plugin.schema_migrations"); n != 4 {
		t.Fatalf("%d migrations recorded; want 4", n)
	}
}
