package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/agentplatform/tenant-init/internal/pgtest"
	"github.com/agentplatform/tenant-init/pluginbench"
)

// Benchmarks of the plugin on this machine, recorded in docs/benchmarks.md,
// never asserted. Run:
//
//	go test -run '^$' -bench 'Commit' -benchtime 300x ./plugin
//	go test -run '^$' -bench 'Recall' -benchtime 200x -timeout 40m ./plugin

// corpus is real English: the comment lines of the Go distribution's
// sources (technical prose, as agents' memories often are), read in a fixed
// order so every run sees the same text. Every 20th line is kept back as a
// query; the others are memories.
type corpus struct {
	memories, queries []string
	next              int
}

func loadCorpus(tb testing.TB, memories int) *corpus {
	tb.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		tb.Fatal(err)
	}
	c := &corpus{}
	seen := map[string]bool{}
	err = pluginbench.CommentLines(filepath.Join(strings.TrimSpace(string(out)), "src"), func(text string, comment bool) bool {
		if n := len(strings.Fields(text)); !comment || n < 6 || seen[text] {
			return true
		}
		seen[text] = true
		if len(seen)%20 == 0 {
			c.queries = append(c.queries, text)
		} else {
			c.memories = append(c.memories, text)
		}
		return len(c.memories) < memories
	})
	if err != nil {
		tb.Fatal(err)
	}
	if len(c.memories) < memories {
		tb.Fatalf("the Go sources have %d comment lines; the benchmark needs %d", len(c.memories), memories)
	}
	return c
}

func (c *corpus) memory() string {
	c.next++
	return c.memories[c.next%len(c.memories)]
}

func (c *corpus) query(i int) string { return c.queries[i%len(c.queries)] }

func benchService(b *testing.B, dim int) (*Service, string) {
	b.Helper()
	ctx := context.Background()
	svc, err := Open(ctx, Config{DatabaseURL: pgtest.New(b), EmbeddingDim: dim})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(svc.Close)
	srv := httptest.NewServer(svc.Handler())
	b.Cleanup(srv.Close)
	return svc, srv.URL
}

func post(b *testing.B, url string, body any, want int) []byte {
	data, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	if resp.StatusCode != want {
		b.Fatalf("POST %s: %d %s", url, resp.StatusCode, out.Bytes())
	}
	return out.Bytes()
}

// BenchmarkCommit measures writes through HTTP with the built-in embedder:
// one memory per request, and batches of 500.
func BenchmarkCommit(b *testing.B) {
	_, base := benchService(b, DefaultEmbeddingDim)
	c := loadCorpus(b, 20_000)
	b.Run("single", func(b *testing.B) {
		for b.Loop() {
			post(b, base+"/v1/namespaces/workspace:bench/memories",
				map[string]any{"content": c.memory(), "kind": "fact", "source": "agent"}, http.StatusCreated)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	})
	b.Run("batch500", func(b *testing.B) {
		for b.Loop() {
			items := make([]map[string]any, 500)
			for i := range items {
				items[i] = map[string]any{"namespace": fmt.Sprintf("workspace:bench%d", i%10), "content": c.memory(), "kind": "fact", "source": "agent"}
			}
			post(b, base+"/v1/memories/batch", map[string]any{"memories": items}, http.StatusOK)
		}
		b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "memories/s")
	})
}

// fixture loads n memories over 100 namespaces (80 workspaces, 15 teams, 5
// orgs) with COPY, the HNSW index built after the load as a bulk load would.
func fixture(b testing.TB, svc *Service, c *corpus, n int) (nsNames []string) {
	b.Helper()
	ctx := context.Background()
	for i := range 100 {
		prefix := "workspace"
		switch {
		case i >= 95:
			prefix = "org"
		case i >= 80:
			prefix = "team"
		}
		nsNames = append(nsNames, fmt.Sprintf("%s:%02d", prefix, i))
	}
	st := svc.store
	if _, err := st.pool.Exec(ctx, "INSERT INTO "+st.ns+" (name, kind) SELECT n, split_part(n, ':', 1) FROM unnest($1::text[]) n", nsNames); err != nil {
		b.Fatal(err)
	}
	if _, err := st.pool.Exec(ctx, "DROP INDEX "+quoteIdent(DefaultSchema)+".memory_vectors_embedding_idx"); err != nil {
		b.Fatal(err)
	}
	emb := hashEmbedder{dim: svc.cfg.EmbeddingDim}
	start := time.Now()
	base := time.Now().Add(-time.Duration(n) * time.Second)
	rows := make([][]any, n)
	for i := range rows {
		text := c.memories[i]
		rows[i] = []any{newUUID(), nsNames[i%len(nsNames)], text, "fact", "agent", pgvector.NewVector(emb.embed(text)), base.Add(time.Duration(i) * time.Second)}
	}
	conn, err := st.pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	_, err = conn.CopyFrom(ctx, pgx.Identifier{DefaultSchema, "memory_records"},
		[]string{"id", "namespace", "content", "kind", "source", "embedding", "created_at"}, pgx.CopyFromRows(rows))
	if err != nil {
		b.Fatal(err)
	}
	copied := time.Since(start)
	if _, err := conn.Exec(ctx, `SET maintenance_work_mem = '512MB'; SET max_parallel_maintenance_workers = 1;
		INSERT INTO `+st.vecs+` SELECT id, embedding::halfvec FROM `+st.recs+`;
		CREATE INDEX memory_vectors_embedding_idx ON `+st.vecs+` USING hnsw (embedding halfvec_cosine_ops);
		ANALYZE `+st.recs+`; ANALYZE `+st.vecs); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d memories: COPY %v, HNSW build %v", n, copied.Round(time.Millisecond), (time.Since(start) - copied).Round(time.Millisecond))
	return nsNames
}

// BenchmarkRecall measures /v1/search latency (hybrid: embed the query, HNSW
// and full text, RRF) for a workspace searching its workspace, team and org
// namespaces, and the recall@10 of the HNSW path against exact search.
func BenchmarkRecall(b *testing.B) {
	c := loadCorpus(b, 100_000)
	for _, n := range []int{10_000, 100_000} {
		svc, base := benchService(b, DefaultEmbeddingDim)
		nsNames := fixture(b, svc, c, n)
		b.Run(fmt.Sprintf("%dk/search", n/1000), func(b *testing.B) {
			var lat []time.Duration
			i := 0
			for b.Loop() {
				i++
				req := map[string]any{"namespaces": []string{nsNames[i%80], nsNames[80+i%15], nsNames[95+i%5]}, "query": c.query(i)}
				t0 := time.Now()
				post(b, base+"/v1/search", req, http.StatusOK)
				lat = append(lat, time.Since(t0))
			}
			reportPercentiles(b, lat)
		})
		b.Run(fmt.Sprintf("%dk/search-all-namespaces", n/1000), func(b *testing.B) {
			var lat []time.Duration
			i := 0
			for b.Loop() {
				i++
				t0 := time.Now()
				post(b, base+"/v1/search", map[string]any{"namespaces": nsNames, "query": c.query(i)}, http.StatusOK)
				lat = append(lat, time.Since(t0))
			}
			reportPercentiles(b, lat)
		})
		recall := -1.0 // computed once: the benchmark body runs more than once
		b.Run(fmt.Sprintf("%dk/recall@10", n/1000), func(b *testing.B) {
			if recall < 0 {
				recall = recallAt10(b, svc, nsNames, c)
			}
			b.ReportMetric(recall, "recall@10")
		})
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// recallAt10 compares the top 10 of the plugin's vector list through the HNSW
// index (iterative scan, as served for large scopes) with the exact top 10
// (distance to every row, sorted) over 100 queries on all namespaces. A
// result counts as a hit when its distance is within the exact tenth's:
// hashed embeddings tie often, and which of equally distant rows is listed is
// arbitrary.
func recallAt10(b testing.TB, svc *Service, nsNames []string, c *corpus) float64 {
	ctx := context.Background()
	st := svc.store
	served := st.exactScanMax
	st.exactScanMax = 0
	defer func() { st.exactScanMax = served }()
	emb := hashEmbedder{dim: svc.cfg.EmbeddingDim}
	hits, total := 0, 0
	for i := range 100 {
		v := emb.embed(c.query(i))
		got, err := st.search(ctx, st.pool, searchPlan{namespaces: nsNames, limit: 10, vector: v})
		if err != nil {
			b.Fatal(err)
		}
		var tenth float64
		err = st.pool.QueryRow(ctx, "SELECT max(d) FROM (SELECT embedding <=> $1 AS d FROM "+st.recs+
			" ORDER BY (embedding <=> $1) + 0 LIMIT 10) t", pgvector.NewVector(v)).Scan(&tenth)
		if err != nil {
			b.Fatal(err)
		}
		ids := make([]string, len(got))
		for i, m := range got {
			ids[i] = m.ID
		}
		var within int
		err = st.pool.QueryRow(ctx, "SELECT count(*) FROM "+st.recs+" WHERE id = ANY ($1) AND embedding <=> $2 <= $3 + 1e-6",
			ids, pgvector.NewVector(v), tenth).Scan(&within)
		if err != nil {
			b.Fatal(err)
		}
		hits += within
		total += 10
	}
	return float64(hits) / float64(total)
}

// BenchmarkRelevanceFloor measures, on 10,000 real memories, what the
// relevance floor (MEMORY_PLUGIN_MIN_SIMILARITY) does to known-item recall
// and to queries nothing relates to, through the search the handler runs:
//   - known item: the query is 3 to 5 consecutive words of one memory, and it
//     counts when that memory is in the top 10 (300 queries);
//   - unrelated: 200 queries of made-up words, and 10 English questions about
//     things the corpus never mentions; they count when nothing comes back.
//
// Run: go test -run '^$' -bench RelevanceFloor -benchtime 1x ./plugin
func BenchmarkRelevanceFloor(b *testing.B) {
	c := loadCorpus(b, 10_000)
	svc, _ := benchService(b, DefaultEmbeddingDim)
	nsNames := fixture(b, svc, c, 10_000)
	rng := rand.New(rand.NewPCG(1, 2))
	type known struct{ query, content string }
	var knowns []known
	for i := range 300 {
		m := c.memories[(i*37)%10_000]
		w := strings.Fields(m)
		k := 3 + i%3
		st := rng.IntN(len(w) - k + 1)
		knowns = append(knowns, known{strings.Join(w[st:st+k], " "), m})
	}
	var unrelated []string
	for range 200 {
		var ws []string
		for range 1 + rng.IntN(3) {
			w := make([]byte, 4+rng.IntN(6))
			for j := range w {
				w[j] = byte('a' + rng.IntN(26))
			}
			ws = append(ws, string(w))
		}
		unrelated = append(unrelated, strings.Join(ws, " "))
	}
	english := []string{"zebra", "banana bread recipe", "who won the football world cup", "giraffes eat acacia leaves",
		"my grandmother's birthday party", "the weather in paris", "zebra crossing", "how tall is mount everest",
		"favourite pizza topping", "a poem about the ocean"}
	ctx := context.Background()
	search := func(floor float64, q string) []memory {
		svc.cfg.MinSimilarity = &floor
		p := svc.plan(ctx, searchInput{Namespaces: nsNames, Words: strings.Fields(q), Limit: 10, Query: q})
		ms, err := svc.store.search(ctx, svc.store.pool, p)
		if err != nil {
			b.Fatal(err)
		}
		return ms
	}
	for _, floor := range []float64{0, 0.15, 0.25, 0.35} {
		b.Run(fmt.Sprintf("floor=%.2f", floor), func(b *testing.B) {
			for b.Loop() {
				found := 0
				for _, k := range knowns {
					if slices.ContainsFunc(search(floor, k.query), func(m memory) bool { return m.Content == k.content }) {
						found++
					}
				}
				emptyNonsense, emptyEnglish := 0, 0
				for _, q := range unrelated {
					if len(search(floor, q)) == 0 {
						emptyNonsense++
					}
				}
				for _, q := range english {
					if len(search(floor, q)) == 0 {
						emptyEnglish++
					}
				}
				b.ReportMetric(float64(found)/float64(len(knowns)), "known-item-recall@10")
				b.ReportMetric(float64(emptyNonsense)/float64(len(unrelated)), "nonsense-empty")
				b.ReportMetric(float64(emptyEnglish)/float64(len(english)), "english-unrelated-empty")
			}
		})
	}
}
