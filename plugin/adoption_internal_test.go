package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/agentplatform/tenant-init/internal/pgtest"
)

// TestTheTablesOfThePlatformsPluginAreAdoptedInPlace boots the plugin on the
// platform plugin's tables, stops the background adoption between two
// batches, boots again over a half-built index, and checks that every row and
// field survived and is recalled.
func TestTheTablesOfThePlatformsPluginAreAdoptedInPlace(t *testing.T) {
	for _, vectorSchema := range []string{"memory_plugin", "public"} {
		t.Run("with pgvector in "+vectorSchema, func(t *testing.T) {
			t.Parallel()
			testAdoption(t, vectorSchema)
		})
	}
}

func testAdoption(t *testing.T, vectorSchema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dbURL := pgtest.New(t)
	const n = 1200
	rows := loadPlatformFixture(t, dbURL, vectorSchema, n)
	conn := pgtest.Connect(t, dbURL)
	cfg := Config{DatabaseURL: dbURL, Logger: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))}

	// First boot: only the catalog changes.
	start := time.Now()
	svc, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("the first boot on the platform's tables failed: %v", err)
	}
	t.Logf("first boot on %d memories took %v", n, time.Since(start))
	srv := httptest.NewServer(svc.Handler())
	c := &httpClient{t: t, base: srv.URL}
	// Before any embedding, recall answers from full text.
	if got := c.search(map[string]any{"namespaces": namespaceNames(), "query": "token00042"}); len(got) != 1 || got[0].ID != rows[42].id {
		t.Fatalf("full-text recall before embedding found %v; want memory 42", got)
	}

	// The background job, stopped after its second batch.
	svc.adopt.batch = 100
	batches := 0
	stopCtx, stop := context.WithCancel(ctx)
	svc.adopt.afterBatch = func() {
		if batches++; batches == 2 {
			stop()
		}
	}
	if err := svc.FinishAdoption(stopCtx); !errors.Is(err, context.Canceled) {
		t.Fatalf("the stopped adoption returned %v; want context.Canceled", err)
	}
	h := c.health()
	if h.Adoption == nil || h.Adoption.State != "embedding" || h.Adoption.Done != 200 || h.Adoption.Total != n {
		t.Fatalf("health after the stop: %+v; want adoption embedding 200 of %d", h.Adoption, n)
	}
	srv.Close()
	svc.Close()
	if embedded := count(t, conn, "SELECT count(embedding) FROM memory_plugin.memory_records"); embedded != 200 {
		t.Fatalf("%d memories embedded after two batches; want 200", embedded)
	}
	migrations := count(t, conn, "SELECT count(*) FROM memory_plugin.schema_migrations")

	// A build interrupted by a crash leaves an invalid index behind.
	if _, err := conn.Exec(ctx, `SET search_path = memory_plugin, public;
		CREATE INDEX memory_records_namespace_created_idx ON memory_plugin.memory_records (namespace, created_at DESC);
		UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'memory_plugin.memory_records_namespace_created_idx'::regclass;
		RESET search_path`); err != nil {
		t.Fatal(err)
	}

	// Second boot: nothing applied twice; the job resumes and finishes.
	svc, err = Open(ctx, cfg)
	if err != nil {
		t.Fatalf("the second boot failed: %v", err)
	}
	defer svc.Close()
	if again := count(t, conn, "SELECT count(*) FROM memory_plugin.schema_migrations"); again != migrations {
		t.Fatalf("%d migrations recorded after the second boot, %d before", again, migrations)
	}
	svc.adopt.batch = 100
	if err := svc.FinishAdoption(ctx); err != nil {
		t.Fatalf("the resumed adoption: %v", err)
	}
	srv = httptest.NewServer(svc.Handler())
	defer srv.Close()
	c.base = srv.URL
	if h := c.health(); h.Status != "ok" || h.Adoption == nil || h.Adoption.State != "done" || h.Adoption.Done != n {
		t.Fatalf("health after adoption: %+v %+v", h, h.Adoption)
	}

	checkAdoptedShape(t, conn)
	checkRowsSurvived(t, conn, rows)
	checkRecall(t, c, rows)

	// Third boot: adoption has nothing left to do.
	svc.Close()
	svc, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if err := svc.FinishAdoption(ctx); err != nil || svc.adopt.status.Load() != nil {
		t.Fatalf("a boot after adoption: %v, status %+v; want nothing to do", err, svc.adopt.status.Load())
	}
}

func namespaceNames() []string {
	var out []string
	for _, ns := range platformNamespaces {
		out = append(out, ns.name)
	}
	return out
}

func count(t *testing.T, conn *pgx.Conn, sql string) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// checkAdoptedShape: our indexes, valid; the platform's gone; embedding NOT
// NULL; the other model's vectors put aside.
func checkAdoptedShape(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	indexes := map[string]bool{}
	rows, _ := conn.Query(context.Background(), `SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = 'memory_plugin.memory_records'::regclass`)
	var name string
	var valid bool
	if _, err := pgx.ForEachRow(rows, []any{&name, &valid}, func() error { indexes[name] = valid; return nil }); err != nil {
		t.Fatal(err)
	}
	// The HNSW index is memory_vectors' (migration 0003), not the records';
	// the full-text index holds the namespace too (migration 0004).
	for _, want := range []string{"memory_records_pkey", "memory_records_scoped_tsv_idx",
		"memory_records_namespace_created_idx", "memory_records_pinned_idx"} {
		if v, ok := indexes[want]; !ok || !v {
			t.Errorf("index %s: present %v, valid %v", want, ok, v)
		}
	}
	for _, gone := range []string{"idx_memory_records_embedding", "idx_memory_records_namespace", "idx_memory_records_expires"} {
		if _, ok := indexes[gone]; ok {
			t.Errorf("the platform's index %s is still there", gone)
		}
	}
	if len(indexes) != 4 {
		t.Errorf("indexes %v; want exactly ours", indexes)
	}
	if n := count(t, conn, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'memory_plugin.memory_records'::regclass
		AND attname = 'embedding' AND attnotnull AND atttypmod = 256`); n != 1 {
		t.Error("embedding is not a NOT NULL vector(256)")
	}
	// Every memory is in the HNSW index or queued for it.
	if n := count(t, conn, `SELECT count(*) FROM pg_index WHERE indexrelid = 'memory_plugin.memory_vectors_embedding_idx'::regclass AND indisvalid`); n != 1 {
		t.Error("memory_vectors has no valid HNSW index")
	}
	if n := count(t, conn, `SELECT count(*) FROM memory_plugin.memory_records r
		WHERE NOT EXISTS (SELECT FROM memory_plugin.memory_vectors v WHERE v.id = r.id)
		AND NOT EXISTS (SELECT FROM memory_plugin.memory_vector_queue q WHERE q.id = r.id)`); n != 0 {
		t.Errorf("%d adopted memories neither indexed nor queued for the vector index", n)
	}
}

func checkRowsSurvived(t *testing.T, conn *pgx.Conn, want []platformRow) {
	t.Helper()
	rows, _ := conn.Query(context.Background(), `SELECT id::text, namespace, content, kind, source, expires_at,
		coalesce(propagation::text, ''), pin, created_at, embedding_foreign::text, embedding IS NOT NULL
		FROM memory_plugin.memory_records`)
	got := map[string]platformRow{}
	foreign := map[string]*string{}
	var r platformRow
	var f *string
	var embedded bool
	_, err := pgx.ForEachRow(rows, []any{&r.id, &r.namespace, &r.content, &r.kind, &r.source, &r.expiresAt, &r.propagation, &r.pin, &r.createdAt, &f, &embedded},
		func() error {
			if !embedded {
				t.Errorf("memory %s has no embedding", r.id)
			}
			got[r.id], foreign[r.id] = r, f
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d memories after adoption; want %d", len(got), len(want))
	}
	for _, w := range want {
		g := got[w.id]
		switch {
		case g.namespace != w.namespace || g.content != w.content || g.kind != w.kind || g.source != w.source || g.pin != w.pin:
			t.Fatalf("memory %s: %+v; want %+v", w.id, g, w)
		case !g.createdAt.Equal(w.createdAt):
			t.Fatalf("memory %s created_at %v; want %v", w.id, g.createdAt, w.createdAt)
		case (g.expiresAt == nil) != (w.expiresAt == nil) || (g.expiresAt != nil && !g.expiresAt.Equal(*w.expiresAt)):
			t.Fatalf("memory %s expires_at %v; want %v", w.id, g.expiresAt, w.expiresAt)
		case normJSON(t, g.propagation) != normJSON(t, w.propagation):
			t.Fatalf("memory %s propagation %s; want %s", w.id, g.propagation, w.propagation)
		case (foreign[w.id] != nil) != (w.foreign != nil):
			t.Fatalf("memory %s: the platform's vector was not kept aside", w.id)
		}
	}
	var md map[string]string
	nrows, _ := conn.Query(context.Background(), "SELECT name, coalesce(metadata::text, '') FROM memory_plugin.memory_namespaces")
	md = map[string]string{}
	var name, meta string
	if _, err := pgx.ForEachRow(nrows, []any{&name, &meta}, func() error { md[name] = meta; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, ns := range platformNamespaces {
		if normJSON(t, md[ns.name]) != normJSON(t, ns.metadata) {
			t.Fatalf("namespace %s metadata %q; want %q", ns.name, md[ns.name], ns.metadata)
		}
	}
}

func normJSON(t *testing.T, s string) string {
	if s == "" {
		return ""
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func checkRecall(t *testing.T, c *httpClient, rows []platformRow) {
	t.Helper()
	all := namespaceNames()
	// Every live memory is found by its own token, by full text and vector.
	for i := 0; i < len(rows); i += 97 {
		r := rows[i]
		got := c.search(map[string]any{"namespaces": all, "query": strings.Fields(r.content)[len(strings.Fields(r.content))-1], "limit": 3})
		expired := r.expiresAt != nil && r.expiresAt.Before(time.Now())
		found := slices.ContainsFunc(got, func(m memory) bool { return m.ID == r.id })
		if expired == found {
			t.Errorf("memory %d (expired %v): search returned %v", i, expired, got)
		}
	}
	// Other word forms find it too.
	got := c.search(map[string]any{"namespaces": all, "query": "certificates runbooks", "limit": 5})
	if !slices.ContainsFunc(got, func(m memory) bool { return strings.Contains(m.Content, "certificate runbook") }) {
		t.Errorf("a near-spelling query found %v", got)
	}
	// A listing puts the pinned first and never shows the expired.
	listed := c.search(map[string]any{"namespaces": all, "limit": 100})
	if !listed[0].Pin || listed[0].Score != nil {
		t.Errorf("a listing starts with %+v; want a pinned memory with a null score", listed[0])
	}
	for _, m := range listed {
		if m.ExpiresAt != nil && m.ExpiresAt.Before(time.Now()) {
			t.Errorf("an expired memory was listed: %+v", m)
		}
		if m.ID == rows[5].id && m.Propagation != nil {
			t.Errorf("the array propagation was served as %s; want null", m.Propagation)
		}
	}
	if got := c.search(map[string]any{"namespaces": all, "query": "zebra"}); len(got) != 0 {
		t.Errorf("an unrelated query found %v", got)
	}
	// Writes: to an adopted namespace, and moving an adopted memory.
	c.post("/v1/namespaces/"+all[0]+"/memories", map[string]any{"id": rows[1].id, "content": "moved", "kind": "fact", "source": "agent"}, http.StatusCreated)
	if got := c.search(map[string]any{"namespaces": []string{all[0]}, "query": "moved"}); len(got) != 1 || got[0].ID != rows[1].id {
		t.Errorf("the moved memory: %v", got)
	}
}

// httpClient is the minimum of a contract client for internal tests.
type httpClient struct {
	t    *testing.T
	base string
}

type healthBody struct {
	Status   string
	Adoption *AdoptionStatus
}

func (c *httpClient) health() healthBody {
	c.t.Helper()
	resp, err := http.Get(c.base + "/v1/health")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var h healthBody
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		c.t.Fatal(err)
	}
	return h
}

func (c *httpClient) post(path string, body any, want int) []byte {
	c.t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(c.base+path, "application/json", strings.NewReader(string(data)))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != want {
		c.t.Fatalf("POST %s = %d %s; want %d", path, resp.StatusCode, out.String(), want)
	}
	return []byte(out.String())
}

func (c *httpClient) search(req map[string]any) []memory {
	c.t.Helper()
	var answer struct{ Memories []memory }
	if err := json.Unmarshal(c.post("/v1/search", req, http.StatusOK), &answer); err != nil {
		c.t.Fatal(err)
	}
	return answer.Memories
}

// BenchmarkAdoption measures adopting the platform plugin's tables holding
// 100,000 memories (10% with 1536-d vectors): the boot, until /v1/health
// answers ok, and the background job, until every memory is embedded and
// indexed. The anchor is a boot on an empty database in the same run.
//
// Run: go test -run '^$' -bench Adoption -benchtime 1x -timeout 30m ./plugin
func BenchmarkAdoption(b *testing.B) {
	ctx := context.Background()
	const n = 100_000
	for b.Loop() {
		start := time.Now()
		anchor, err := Open(ctx, Config{DatabaseURL: pgtest.New(b)})
		if err != nil {
			b.Fatal(err)
		}
		emptyBoot := time.Since(start)
		anchor.Close()

		dbURL := pgtest.New(b)
		loadPlatformFixture(b, dbURL, "memory_plugin", n)
		start = time.Now()
		svc, err := Open(ctx, Config{DatabaseURL: dbURL})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(svc.Handler())
		resp, err := http.Get(srv.URL + "/v1/health")
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("health: %v %v", resp, err)
		}
		resp.Body.Close()
		healthy := time.Since(start)
		start = time.Now()
		if err := svc.FinishAdoption(ctx); err != nil {
			b.Fatal(err)
		}
		finished := time.Since(start)
		srv.Close()
		svc.Close()
		b.ReportMetric(emptyBoot.Seconds(), "empty-boot-s")
		b.ReportMetric(healthy.Seconds(), "adopting-boot-to-healthy-s")
		b.ReportMetric(finished.Seconds(), "healthy-to-fully-embedded-and-indexed-s")
	}
}

// TestAFailedAdoptionSaysSoInHealth: an adoption that stops on an error (here
// the column it fills is taken away between two batches) reports state
// "failed" and the error, not "embedding" for the rest of the process's life.
func TestAFailedAdoptionSaysSoInHealth(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbURL := pgtest.New(t)
	loadPlatformFixture(t, dbURL, "memory_plugin", 300)
	conn := pgtest.Connect(t, dbURL)
	svc, err := Open(ctx, Config{DatabaseURL: dbURL, Logger: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	c := &httpClient{t: t, base: srv.URL}
	svc.adopt.batch = 100
	svc.adopt.afterBatch = func() {
		svc.adopt.afterBatch = nil
		if _, err := conn.Exec(ctx, "ALTER TABLE memory_plugin.memory_records RENAME COLUMN embedding TO embedding_gone"); err != nil {
			t.Error(err)
		}
	}
	if err := svc.FinishAdoption(ctx); err == nil {
		t.Fatal("the adoption succeeded without the column it fills")
	}
	h := c.health()
	if h.Adoption == nil || h.Adoption.State != "failed" || h.Adoption.Error == "" || h.Adoption.Done != 100 || h.Adoption.Total != 300 {
		t.Fatalf("health after a failed adoption: %+v; want state failed, an error, done 100 of 300", h.Adoption)
	}
}
