package plugin

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgvector/pgvector-go"
)

// A small scope's vector list comes from memory_vectors' namespace btree
// where memory_vectors holds every memory of a namespace, and from
// memory_records where it does not (scope.go). Recall must answer the same
// either way: the same ids, in the same order, with the same scores, while
// memories are queued, moved, deleted, expired or of another kind, and with
// near-duplicate vectors whose halfvec distances may order differently from
// the exact ones.
func TestASmallScopeIsRecalledFromTheIndexAsFromTheMemories(t *testing.T) {
	const dim = 16
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc := openService(t, ctx, dim)
	st := svc.store

	rng := rand.New(rand.NewPCG(5, 6))
	words := strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima")
	scope := []string{"workspace:w", "team:t", "org:o"}
	past := time.Now().Add(-time.Hour)
	var items []memoryInput
	var vecs [][]float32
	for i := range 900 {
		v := randomVector(rng, dim)
		switch {
		case i%5 == 1: // a near-duplicate of the previous memory's vector
			v = slices.Clone(vecs[i-1])
			v[rng.IntN(dim)] += 1e-4
		case i%7 == 2: // an exact duplicate
			v = slices.Clone(vecs[i-1])
		}
		vecs = append(vecs, v)
		in := memoryInput{ID: newUUID(), Namespace: scope[i%3], Kind: "fact", Source: "agent", Embedding: v,
			Content: words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))] + fmt.Sprint(" memory ", i)}
		switch {
		case i%11 == 3:
			in.Kind = "summary"
		case i%13 == 4:
			in.ExpiresAt = &past
		}
		items = append(items, in)
	}
	// Another workspace's memories, never in the scope.
	for i := range 300 {
		items = append(items, memoryInput{ID: newUUID(), Namespace: "workspace:other", Kind: "fact", Source: "agent",
			Embedding: randomVector(rng, dim), Content: words[i%len(words)]})
	}
	if err := st.commitBatch(ctx, items[:500]); err != nil {
		t.Fatal(err)
	}
	if err := st.commitBatch(ctx, items[500:]); err != nil {
		t.Fatal(err)
	}
	waitVectorIndex(t, svc)

	plans := func() []searchPlan {
		var ps []searchPlan
		for i := range 40 {
			p := searchPlan{namespaces: scope, limit: []int{5, 10, 20}[i%3]}
			switch i % 4 {
			case 0, 1: // the very vector of a memory, or one near it
				p.vector = slices.Clone(vecs[rng.IntN(900)])
				if i%4 == 1 {
					p.vector[0] += 1e-3
				}
			case 2:
				p.vector = randomVector(rng, dim)
			}
			if i%3 != 2 {
				p.tsquery = tsqueryText([]string{words[rng.IntN(len(words))], words[rng.IntN(len(words))]})
			}
			if p.vector == nil && p.tsquery == "" {
				p.tsquery = tsqueryText(words[:3])
			}
			if i%5 == 0 {
				p.kinds = []string{"summary"}
			}
			if i%6 == 0 {
				p.namespaces = scope[:1]
			}
			ps = append(ps, p)
		}
		return ps
	}()
	same := func(t *testing.T) {
		t.Helper()
		for i, p := range plans {
			st.heapScan = true
			want, err := st.search(ctx, st.pool, p)
			st.heapScan = false
			if err != nil {
				t.Fatal(err)
			}
			got, err := st.search(ctx, st.pool, p)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := answer(got), answer(want); a != b {
				t.Fatalf("query %d (%d-word text, vector %v, kinds %v, %d namespaces):\nfrom the index   %s\nfrom the memories %s",
					i, strings.Count(p.tsquery, "|")+1, p.vector != nil, p.kinds, len(p.namespaces), a, b)
			}
		}
	}

	t.Run("every memory indexed", same)

	// The indexer stopped: memories queued, moved in and out of the
	// scope's namespaces, deleted, and one moved whose vector is asked.
	svc.stopVectorIndexer()
	moved := items[10] // from team:t
	moved.Namespace = "workspace:w"
	writes := []memoryInput{moved}
	for i := range 20 {
		in := items[20+i]
		in.Namespace = []string{"workspace:other", scope[(i+1)%3]}[i%2] // out of the scope, or to another of its namespaces
		writes = append(writes, in)
		writes = append(writes, memoryInput{ID: newUUID(), Namespace: scope[i%3], Kind: "fact", Source: "agent",
			Embedding: randomVector(rng, dim), Content: words[i%len(words)] + " queued"})
	}
	for _, in := range writes {
		if err := st.commit(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range items[60:66] {
		if err := st.deleteMemory(ctx, in.ID, in.Namespace); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("memories queued, moved and deleted", same)
	t.Run("a moved memory is found in its new namespace only", func(t *testing.T) {
		for _, ns := range []string{items[10].Namespace, moved.Namespace} {
			got, err := st.search(ctx, st.pool, searchPlan{namespaces: []string{ns}, limit: 5, vector: moved.Embedding})
			if err != nil {
				t.Fatal(err)
			}
			found := len(got) > 0 && got[0].ID == moved.ID
			if found != (ns == moved.Namespace) {
				t.Errorf("in %s: nearest %s; the moved memory %s first: %v", ns, answer(got), moved.ID, found)
			}
		}
	})

	svc.startVectorIndexer()
	waitVectorIndex(t, svc)
	t.Run("memory_vectors holds every memory as memory_records does", func(t *testing.T) {
		var wrong int
		if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM `+st.recs+` r FULL JOIN `+st.vecs+` x ON x.id = r.id
			WHERE x.id IS NULL OR r.id IS NULL OR (x.namespace, x.kind, x.expires_at) IS DISTINCT FROM (r.namespace, r.kind, r.expires_at)`).Scan(&wrong); err != nil {
			t.Fatal(err)
		}
		if wrong != 0 {
			t.Fatalf("%d memories differ between memory_records and memory_vectors", wrong)
		}
	})
	t.Run("every memory indexed again", same)

	// The index is what answers: a memory whose indexed vector is made to
	// point away from the query is missing from the answer.
	t.Run("the namespaces fully indexed are read from the index", func(t *testing.T) {
		target := items[300]
		away := normalized(target.Embedding)
		for i := range away {
			away[i] = -away[i]
		}
		if _, err := st.pool.Exec(ctx, "UPDATE "+st.vecs+" SET embedding = $2 WHERE id = $1", target.ID, pgvector.NewHalfVector(away)); err != nil {
			t.Fatal(err)
		}
		got, err := st.search(ctx, st.pool, searchPlan{namespaces: scope, limit: 5, vector: target.Embedding})
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(got, func(m memory) bool { return m.ID == target.ID }) {
			t.Fatalf("the memory was found through its own vector (%s): the index was not read", answer(got))
		}
	})
}

// answer is a recall's ids and scores, for comparison and messages.
func answer(ms []memory) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s:%v ", m.ID[:8], *m.Score)
	}
	return b.String()
}

// nearest keeps the k nearest of the vector list as PostgreSQL's ORDER BY
// dist, id LIMIT k would: ties by id, NaN (a zero vector's distance) last.
func TestNearestKeepsTheVectorListAsPostgreSQLOrdersIt(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	r := float32(1)
	nan := math.NaN()
	tests := []struct {
		name  string
		dists []*float64 // candidate i has id "i"
		tr    []bool
		k     int
		want  string // the ids left in the vector list, then those kept
	}{
		{"the nearest k are kept, ties broken by id", []*float64{f(0.3), f(0.1), f(0.1), f(0.2)}, nil, 2, "vec 1 2; kept 1 2"},
		{"a NaN distance sorts after every number", []*float64{f(nan), f(0.9), f(0.5)}, nil, 2, "vec 1 2; kept 1 2"},
		{"a candidate of the full-text list stays without its distance", []*float64{f(0.3), f(0.1), f(0.2)}, []bool{true, false, false}, 2, "vec 1 2; kept 0 1 2"},
		{"fewer than k are all kept", []*float64{f(nan), nil}, []bool{false, true}, 5, "vec 0; kept 0 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cands []candidate
			for i, d := range tt.dists {
				c := candidate{id: []byte(fmt.Sprint(i))}
				if d != nil {
					c.dist, c.inVec = *d, true
				}
				if i < len(tt.tr) && tt.tr[i] {
					c.tr, c.inFTS = r, true
				}
				cands = append(cands, c)
			}
			var vec, kept []string
			for _, c := range nearest(cands, tt.k) {
				if c.inVec {
					vec = append(vec, string(c.id))
				}
				kept = append(kept, string(c.id))
			}
			if got := "vec " + strings.Join(vec, " ") + "; kept " + strings.Join(kept, " "); got != tt.want {
				t.Fatalf("got %q; want %q", got, tt.want)
			}
		})
	}
}

// neighbours ranks the vector list as nearest chose it: by distance, NaN (a
// zero vector's distance) last, then by id, before its stable re-rank by
// similarity; so among equally similar neighbours a NaN distance comes last
// here too.
func TestNeighboursOrderANaNDistanceAsNearestDoes(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name  string
		dists []float64 // candidate i has id "i"
		want  string
	}{
		{"a NaN distance comes after every number", []float64{nan, 0.4, 0.2}, "2 1 0"},
		{"equal distances are ordered by id", []float64{0.3, nan, 0.3}, "0 2 1"},
	}
	same := func(string) float64 { return 0.5 } // every neighbour equally similar
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var vec []*candidate
			for i, d := range tt.dists {
				vec = append(vec, &candidate{id: []byte(fmt.Sprint(i)), dist: d, inVec: true})
			}
			var got []string
			for _, c := range neighbours(vec, searchPlan{similarity: same}) {
				got = append(got, string(c.id))
			}
			if strings.Join(got, " ") != tt.want {
				t.Fatalf("got %v; want %s", got, tt.want)
			}
		})
	}
}
