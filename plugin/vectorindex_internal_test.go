package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/internal/pgtest"
)

// randomVector returns dim components uniform in [-0.5, 0.5): vectors
// unrelated to each other, for tests of the vector paths.
func randomVector(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = rng.Float32() - 0.5
	}
	return v
}

// openService opens a Service of dim dimensions on a database of its own,
// closed when the test ends.
func openService(t testing.TB, ctx context.Context, dim int) *Service {
	t.Helper()
	svc, err := Open(ctx, Config{DatabaseURL: pgtest.New(t), EmbeddingDim: dim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc
}

// waitVectorIndex waits until the background indexer has found the queue
// empty, with no rebuild running.
func waitVectorIndex(t testing.TB, svc *Service) {
	t.Helper()
	select {
	case <-svc.vindex.waitCaughtUp():
	case <-time.After(time.Minute):
		t.Fatal("the vector indexer did not catch up within a minute")
	}
}

// A memory is found by vector recall over a large scope from its 201 on:
// while queued (the indexer stopped), through the queue's exact scan; once
// indexed, through the HNSW index. The indexer drains the queue in batches
// and says so in /v1/health; a memory rewritten after indexing is re-queued
// with its stale indexed vector dropped; a restart resumes what was queued.
func TestQueuedMemoriesAreFoundThenIndexedInTheBackground(t *testing.T) {
	const dim = 16
	ctx := context.Background()
	cfg := Config{DatabaseURL: pgtest.New(t), EmbeddingDim: dim}
	svc, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.stopVectorIndexer()
	svc.store.exactScanMax = 0 // force the large-scope path
	rng := rand.New(rand.NewPCG(1, 2))
	vec := func() []float32 { return randomVector(rng, dim) }
	items := make([]memoryInput, 1200)
	for i := range items {
		items[i] = memoryInput{ID: newUUID(), Namespace: "workspace:a", Content: fmt.Sprint("memory ", i),
			Kind: "fact", Source: "agent", Embedding: vec()}
	}
	for from := 0; from < len(items); from += 400 {
		if err := svc.store.commitBatch(ctx, items[from:from+400]); err != nil {
			t.Fatal(err)
		}
	}
	nearest := func(target memoryInput) bool {
		t.Helper()
		got, err := svc.store.search(ctx, svc.store.pool, searchPlan{namespaces: []string{"workspace:a"}, limit: 5, vector: target.Embedding})
		if err != nil {
			t.Fatal(err)
		}
		return len(got) > 0 && got[0].ID == target.ID
	}
	queued := func() (n int) {
		t.Helper()
		if err := svc.store.pool.QueryRow(ctx, "SELECT count(*) FROM "+svc.store.queue).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := queued(); n != len(items) {
		t.Fatalf("%d memories queued; want %d", n, len(items))
	}
	for _, i := range []int{0, 599, 1199} {
		if !nearest(items[i]) {
			t.Fatalf("queued memory %d is not its own nearest neighbour", i)
		}
	}

	// Index at least 1000, then stop as a crash would.
	svc.vindex.batch = 500
	done := 0
	svc.vindex.afterBatch = func(n int) {
		if done += n; done >= 1000 {
			svc.vindex.stop()
		}
	}
	svc.startVectorIndexer()
	<-svc.vindex.done
	if n := queued(); n != len(items)-done || done >= len(items) {
		t.Fatalf("%d memories queued after %d indexed; want %d", n, done, len(items)-done)
	}
	for _, i := range []int{0, 599, 1199} {
		if !nearest(items[i]) {
			t.Fatalf("memory %d is not its own nearest neighbour with the index partly built", i)
		}
	}
	svc.Close()

	// A new process resumes the queue.
	svc, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	svc.store.exactScanMax = 0
	waitVectorIndex(t, svc)
	var indexed int
	if err := svc.store.pool.QueryRow(ctx, "SELECT count(*) FROM "+svc.store.vecs).Scan(&indexed); err != nil {
		t.Fatal(err)
	}
	if indexed != len(items) {
		t.Fatalf("%d memories indexed; want %d", indexed, len(items))
	}
	for _, i := range []int{0, 599, 1199} {
		if !nearest(items[i]) {
			t.Fatalf("indexed memory %d is not its own nearest neighbour", i)
		}
	}
	// Rewritten with another vector through HTTP: the old indexed vector
	// goes, the memory is queued again, then indexed, and health says so.
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	moved := items[5]
	moved.Embedding = vec()
	emb, _ := json.Marshal(moved.Embedding)
	body := fmt.Sprintf(`{"id":%q,"content":"moved","kind":"fact","source":"agent","embedding":%s}`, moved.ID, emb)
	resp, err := http.Post(srv.URL+"/v1/namespaces/workspace:a/memories", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("rewrite: %v %v", resp, err)
	}
	resp.Body.Close()
	if !nearest(moved) {
		t.Fatal("a rewritten memory is not found by its new vector")
	}
	waitVectorIndex(t, svc)
	if !nearest(moved) {
		t.Fatal("a rewritten memory, indexed again, is not found by its new vector")
	}
	resp, err = http.Get(srv.URL + "/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h healthAnswer
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	if h.VectorIndex == nil || h.VectorIndex.Indexed < int64(len(items)-done+1) {
		t.Fatalf("health vector_index = %+v; want at least the memories this process indexed", h.VectorIndex)
	}
}

// A backlog as large as the index is indexed by rebuilding it (drop, move
// every queued memory, CREATE INDEX CONCURRENTLY), and an index a crash left
// invalid is rebuilt when the indexer starts.
func TestALargeBacklogRebuildsTheIndex(t *testing.T) {
	const dim = 16
	ctx := context.Background()
	cfg := Config{DatabaseURL: pgtest.New(t), EmbeddingDim: dim}
	svc, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { svc.Close() }()
	svc.stopVectorIndexer()
	rng := rand.New(rand.NewPCG(5, 6))
	items := make([]memoryInput, 1500)
	for i := range items {
		v := randomVector(rng, dim)
		items[i] = memoryInput{ID: newUUID(), Namespace: "workspace:a", Content: fmt.Sprint("memory ", i), Kind: "fact", Source: "agent", Embedding: v}
	}
	for from := 0; from < len(items); from += 500 {
		if err := svc.store.commitBatch(ctx, items[from:from+500]); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		var indexed, queued, valid int
		if err := svc.store.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+svc.store.vecs+`), (SELECT count(*) FROM `+svc.store.queue+`),
			(SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('memory_plugin.memory_vectors_embedding_idx') AND indisvalid)`).Scan(&indexed, &queued, &valid); err != nil {
			t.Fatal(err)
		}
		if indexed != len(items) || queued != 0 || valid != 1 {
			t.Fatalf("%s: %d indexed, %d queued, valid index %d; want %d, 0, 1", when, indexed, queued, valid, len(items))
		}
	}
	indexOID := func() (oid uint32) {
		t.Helper()
		if err := svc.store.pool.QueryRow(ctx, "SELECT to_regclass('memory_plugin.memory_vectors_embedding_idx')::oid").Scan(&oid); err != nil {
			t.Fatal(err)
		}
		return oid
	}
	before := indexOID()
	svc.vindex.bulkMin = 1000
	svc.startVectorIndexer()
	waitVectorIndex(t, svc) // the rebuild runs in the indexer's loop, before it finds the queue empty
	svc.stopVectorIndexer()
	if svc.vindex.indexed.Load() != int64(len(items)) {
		t.Fatalf("%d indexed by this process; want %d", svc.vindex.indexed.Load(), len(items))
	}
	check("after a rebuild")
	if indexOID() == before {
		t.Fatal("the backlog was inserted into the index, not indexed by rebuilding it")
	}
	svc.store.exactScanMax = 0
	got, err := svc.store.search(ctx, svc.store.pool, searchPlan{namespaces: []string{"workspace:a"}, limit: 5, vector: items[7].Embedding})
	if err != nil || len(got) == 0 || got[0].ID != items[7].ID {
		t.Fatalf("after a rebuild a memory is not its own nearest neighbour: %v %v", got, err)
	}

	// A rebuild interrupted by a crash: the index is invalid.
	if _, err := svc.store.pool.Exec(ctx, "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'memory_plugin.memory_vectors_embedding_idx'::regclass"); err != nil {
		t.Fatal(err)
	}
	svc.vindex.bulkMin = defaultBulkMin
	if err := svc.rebuildVectorIndex(ctx, false); err != nil {
		t.Fatal(err)
	}
	check("after the invalid index was rebuilt")
}

// A memory rewritten while an indexer batch holds its queued id is indexed
// as rewritten: the write waits for the batch (which read the memory as it
// was), then queues the id again, and the next batch indexes the new
// vector. Before, a rewrite that committed while the batch's one statement
// ran could leave the old vector indexed and nothing queued. Until the next
// batch the old vector is still in memory_vectors, with as many rows as
// the namespace has memories: recall over the small scope must not choose
// candidates by it (the queued memory sends its namespace to
// memory_records).
func TestAMemoryRewrittenDuringItsIndexBatchIsIndexedAsRewritten(t *testing.T) {
	const dim = 16
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svc := openService(t, ctx, dim)
	svc.stopVectorIndexer()
	rng := rand.New(rand.NewPCG(3, 4))
	items := make([]memoryInput, 101)
	for i := range items {
		items[i] = memoryInput{ID: newUUID(), Namespace: "workspace:a", Content: fmt.Sprint("memory ", i), Kind: "fact",
			Source: "agent", Embedding: randomVector(rng, dim)}
	}
	// Rewritten to point the opposite way: by its old vector the memory is
	// the farthest of all from the new one.
	rewrite := items[0]
	rewrite.Content, rewrite.Embedding = "rewritten", make([]float32, dim)
	for i, x := range items[0].Embedding {
		rewrite.Embedding[i] = -x
	}
	if err := svc.store.commitBatch(ctx, items); err != nil {
		t.Fatal(err)
	}
	rewritten := make(chan error, 1)
	var once sync.Once
	popped := make(chan struct{})
	svc.store.afterPop = func() {
		once.Do(func() {
			defer close(popped)
			go func() { rewritten <- svc.store.commit(ctx, rewrite) }()
			awaitLockWait(t, ctx, svc, "memory_vector_queue")
		})
	}
	svc.vindex.afterBatch = func(int) { svc.vindex.stop() } // one batch, then stop
	svc.startVectorIndexer()
	select {
	case <-popped:
	case <-ctx.Done():
		t.Fatal("no indexer batch took the memories' ids from the queue")
	}
	<-svc.vindex.done
	if err := <-rewritten; err != nil {
		t.Fatal(err)
	}
	got, err := svc.store.search(ctx, svc.store.pool, searchPlan{namespaces: []string{"workspace:a"}, limit: 5, vector: rewrite.Embedding})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0].ID != rewrite.ID {
		t.Fatal("before the next batch, recall does not find the rewritten memory by its new vector")
	}

	svc.vindex.afterBatch = nil
	svc.startVectorIndexer()
	waitVectorIndex(t, svc)
	var current bool
	if err := svc.store.pool.QueryRow(ctx, `SELECT v.embedding = l2_normalize(r.embedding)::halfvec
		FROM `+svc.store.vecs+` v JOIN `+svc.store.recs+` r ON r.id = v.id WHERE v.id = $1`, rewrite.ID).Scan(&current); err != nil {
		t.Fatal(err)
	}
	if !current {
		t.Fatal("the index holds the vector the memory had before it was rewritten")
	}
}

// awaitLockWait returns once a statement mentioning table waits for a lock
// (pg_stat_activity: the database has no event to subscribe to).
func awaitLockWait(t *testing.T, ctx context.Context, svc *Service, table string) {
	t.Helper()
	for {
		var waiting bool
		err := svc.store.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid())`, table).Scan(&waiting)
		if err != nil {
			t.Errorf("waiting for a statement on %s to wait for a lock: %v", table, err)
			return
		}
		if waiting {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
