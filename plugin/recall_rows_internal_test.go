package plugin

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// recordingQuerier runs recall's statement and keeps it, so that a test can
// run it again and read the rows its own way.
type recordingQuerier struct {
	querier
	sql  string
	args []any
}

func (r *recordingQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	r.sql, r.args = sql, args
	return r.querier.Query(ctx, sql, args...)
}

// Recall reads its candidates' raw values and decodes only the winners;
// its answers must be those of scanning every row into a memory and fusing
// as recall did before (referenceFuse): the same memories, in the same
// order, with the same scores bit for bit, over both paths (small scope,
// large scope), with and without the floor, pinned memories, ties and
// expiry, metadata and propagation.
func TestRecallAnswersAsAScanOfEveryRow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc := openService(t, ctx, 256)
	c := loadCorpus(t, 1500)
	names := []string{"workspace:a", "team:b", "org:c"}
	items := make([]memoryInput, len(c.memories))
	vecs, _ := svc.embed.Embed(ctx, c.memories)
	day := time.Date(2026, 1, 2, 3, 4, 5, 678000, time.UTC)
	for i, text := range c.memories {
		created := day.Add(time.Duration(i%50) * time.Hour) // many share a created_at
		items[i] = memoryInput{ID: newUUID(), Namespace: names[i%3], Content: text, Kind: memoryKinds[i%3],
			Source: "agent", Pin: i%37 == 0, Embedding: vecs[i], CreatedAt: &created}
		if i%5 == 0 {
			items[i].Metadata = []byte(fmt.Sprintf(`{"n": %d, "z": [1, 2.50]}`, i))
			items[i].Propagation = []byte(`{"scope":"team"}`)
		}
		if i%11 == 0 {
			future := day.AddDate(10, 0, 0)
			items[i].ExpiresAt = &future
		}
	}
	for from := 0; from < len(items); from += 500 {
		if err := svc.store.commitBatch(ctx, items[from:min(from+500, len(items))]); err != nil {
			t.Fatal(err)
		}
	}
	waitVectorIndex(t, svc)

	tests := []struct {
		name          string
		exactScanMax  int
		limit         int
		minSimilarity float64
		kinds         []string
	}{
		{"a small scope with the floor answers as before", 5000, 10, 0.25, nil},
		{"a small scope without the floor answers as before", 5000, 20, 0, nil},
		{"a small scope of one kind answers as before", 5000, 10, 0.1, []string{"fact"}},
		{"a large scope through the indexes answers as before", 0, 10, 0.25, nil},
		{"a large scope with a long limit answers as before", 0, 100, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc.store.exactScanMax = tc.exactScanMax
			answered := 0
			for i := range 40 {
				query := c.query(i)
				if i%4 == 3 { // a known item: three words of a memory
					query = strings.Join(strings.Fields(c.memories[i*31])[1:4], " ")
				}
				in := searchInput{Namespaces: names, Kinds: tc.kinds, Limit: tc.limit, Query: query, Words: contentWords(query)}
				plan := svc.plan(ctx, in)
				plan.minSimilarity = tc.minSimilarity
				rec := &recordingQuerier{querier: svc.store.pool}
				got, err := svc.store.search(ctx, rec, plan)
				if err != nil {
					t.Fatal(err)
				}
				want := referenceRecall(t, ctx, svc, rec, plan)
				if len(got) != len(want) {
					t.Fatalf("%q: %d memories; scanning every row gives %d", query, len(got), len(want))
				}
				for j := range got {
					g, _ := json.Marshal(got[j])
					w, _ := json.Marshal(want[j])
					if string(g) != string(w) || math.Float64bits(*got[j].Score) != math.Float64bits(*want[j].Score) {
						t.Fatalf("%q: answer %d is\n%s\nscanning every row gives\n%s", query, j, g, w)
					}
				}
				answered += len(got)
			}
			if answered == 0 {
				t.Fatal("no query answered anything: the comparison proves nothing")
			}
		})
	}
}

// referenceRecall runs the statement rec recorded again and ranks its rows
// as recall did when it scanned every row into a memory.
func referenceRecall(t *testing.T, ctx context.Context, svc *Service, rec *recordingQuerier, p searchPlan) []memory {
	t.Helper()
	rows, err := svc.store.pool.Query(ctx, rec.sql, rec.args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cands []referenceCandidate
	for rows.Next() {
		var c referenceCandidate
		m, err := scanMemory(scanAlso{rows, []any{&c.dist, &c.tr}}, false)
		if err != nil {
			t.Fatal(err)
		}
		c.memory = m
		cands = append(cands, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return referenceFuse(referenceNearest(cands, p.candidates()), p)
}

// referenceNearest is nearest over scanned rows: the statement returns a
// superset of the vector list (smallVectorList's window), which keeps the
// k nearest by exact distance, then id, NaN last.
func referenceNearest(cands []referenceCandidate, k int) []referenceCandidate {
	var vec []*referenceCandidate
	for i := range cands {
		if cands[i].dist != nil {
			vec = append(vec, &cands[i])
		}
	}
	if len(vec) <= k {
		return cands
	}
	slices.SortFunc(vec, func(a, b *referenceCandidate) int {
		if c := compareFloat8(*a.dist, *b.dist); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, c := range vec[k:] {
		c.dist = nil
	}
	var kept []referenceCandidate
	for _, c := range cands {
		if c.dist != nil || c.tr != nil {
			kept = append(kept, c)
		}
	}
	return kept
}

// scanAlso scans its columns into extra after the destinations asked.
type scanAlso struct {
	pgx.Row
	extra []any
}

func (r scanAlso) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra...)...) }

type referenceCandidate struct {
	memory
	dist *float64
	tr   *float32
}

// referenceFuse is fuse and neighbours as they were before recall read raw
// values.
func referenceFuse(cands []referenceCandidate, p searchPlan) []memory {
	score := make(map[*referenceCandidate]float64, len(cands))
	var vec, fts []*referenceCandidate
	for i := range cands {
		c := &cands[i]
		if c.dist != nil {
			vec = append(vec, c)
		}
		if c.tr != nil {
			fts = append(fts, c)
		}
	}
	slices.SortFunc(fts, func(a, b *referenceCandidate) int {
		if *a.tr != *b.tr {
			return cmp.Compare(*b.tr, *a.tr)
		}
		return strings.Compare(a.ID, b.ID)
	})
	for i, c := range fts {
		score[c] = 1 / float64(rrfK+i+1)
	}
	slices.SortFunc(vec, func(a, b *referenceCandidate) int { // NaN last, as nearest
		if c := compareFloat8(*a.dist, *b.dist); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	type neighbour struct {
		c   *referenceCandidate
		sim float64
	}
	var kept []neighbour
	for _, c := range vec {
		sim := 1 - *c.dist
		if p.similarity != nil {
			sim = p.similarity(c.Content)
		}
		if p.minSimilarity <= 0 || sim >= p.minSimilarity {
			kept = append(kept, neighbour{c, sim})
		}
	}
	slices.SortStableFunc(kept, func(a, b neighbour) int { return cmp.Compare(b.sim, a.sim) })
	for i, n := range kept {
		score[n.c] += 1 / float64(rrfK+i+1)
	}
	ranked := make([]*referenceCandidate, 0, len(score))
	for c := range score {
		ranked = append(ranked, c)
	}
	slices.SortFunc(ranked, func(a, b *referenceCandidate) int {
		switch {
		case a.Pin != b.Pin:
			if a.Pin {
				return -1
			}
			return 1
		case score[a] != score[b]:
			return cmp.Compare(score[b], score[a])
		case !a.CreatedAt.Equal(b.CreatedAt):
			return b.CreatedAt.Compare(a.CreatedAt)
		}
		return strings.Compare(a.ID, b.ID)
	})
	var out []memory
	for _, c := range ranked[:min(len(ranked), p.limit)] {
		sc := score[c]
		c.Score = &sc
		out = append(out, c.memory)
	}
	return out
}

// recall_rows.go decodes a recall row by position (colID ... colRank): the
// positions must name the columns memoryColumns lists, whose order scanMemory
// and every listing share. Reordering memoryColumns without them fails here,
// before any recall could read the content from the kind's column.
func TestTheRecallColumnPositionsNameTheirColumns(t *testing.T) {
	var cols []string
	depth, start := 0, 0
	for i, r := range memoryColumns {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				cols = append(cols, strings.TrimSpace(memoryColumns[start:i]))
				start = i + 1
			}
		}
	}
	cols = append(cols, strings.TrimSpace(memoryColumns[start:]))
	for _, tt := range []struct {
		name string
		pos  int
		want string
	}{
		{"colID", colID, "r.id"},
		{"colContent", colContent, "r.content"},
		{"colPin", colPin, "r.pin"},
		{"colCreatedAt", colCreatedAt, "r.created_at"},
	} {
		if tt.pos >= len(cols) || cols[tt.pos] != tt.want {
			t.Errorf("%s = %d: memoryColumns has %q there; want %s (columns: %q)", tt.name, tt.pos, cols[min(tt.pos, len(cols)-1)], tt.want, cols)
		}
	}
	// The distance and the rank follow memoryColumns, and end the row.
	if colDist != len(cols) || colRank != colDist+1 || recallCols != colRank+1 {
		t.Errorf("colDist %d, colRank %d, recallCols %d: want %d, %d, %d after memoryColumns' %d columns",
			colDist, colRank, recallCols, len(cols), len(cols)+1, len(cols)+2, len(cols))
	}
}
