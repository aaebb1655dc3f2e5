package plugin

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
)

// Recall is hybrid. Two ranked candidate lists, nearest embeddings (HNSW,
// cosine) and full-text matches (GIN on a tsvector, ranked by ts_rank_cd), are
// fused by reciprocal rank fusion: score = Σ 1/(rrfK + rank) over the lists a
// memory appears in, so a memory both lists agree on beats one that tops only
// one of them, and neither list's raw scale matters. Pinned memories come
// first among the related ones; an unrelated pinned memory is not brought in,
// so a query nothing relates to returns nothing. Without
// query text and embedding there is nothing to rank by relevance: memories come
// pinned first, then most recent first, and score is null, as the contract
// says.
const rrfK = 60

// defaultExactScanMax is the most memories the searched namespaces may hold
// for the vector list to be computed exactly: the namespace btree finds them,
// each distance is computed, a top-k sort picks the nearest. At that size this
// is as cheap as an HNSW scan, which visits many neighbours per candidate and
// with a selective filter must skip every other namespace's rows, and it is
// exact. Above it the HNSW index with iterative scans serves the list
// (recall@10 in docs/benchmarks.md).
const defaultExactScanMax = 5000

// searchPlan is what one recall runs.
type searchPlan struct {
	namespaces []string
	kinds      []string // empty: every kind
	limit      int
	vector     []float32 // nil: no vector list
	tsquery    string    // "": no full-text list
	substring  string    // a 1-character query: listed memories containing it
	// minSimilarity is the relevance floor of the vector list: a neighbour
	// less similar than this is not related to the query and is dropped.
	minSimilarity float64
	// similarity, when set, measures a neighbour's similarity to the query
	// from its content instead of as 1 - cosine distance (the built-in
	// embedder's exact measure, see hashEmbedder.similarity).
	similarity func(content string) float64
}

// candidates is how deep each list is read before fusion.
func (p searchPlan) candidates() int {
	return max(2*p.limit, 40)
}

// tsqueryText turns words into a tsquery that matches any of them: each word is
// a quoted token, so the text-search parser and the english dictionary
// normalise it exactly as they did the stored content, and no character of the
// user's text can act as a tsquery operator. OR, not AND: ranking rewards
// memories that match more words, and a memory need not contain every word of
// a question to be relevant.
func tsqueryText(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + strings.ReplaceAll(strings.ReplaceAll(w, `\`, `\\`), "'", "''") + "'"
	}
	return strings.Join(quoted, " | ")
}

// querier is a pool or one connection (tests use the latter to change
// session settings).
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// scope returns those of names that exist and have not expired, and how many
// memories they hold, counted up to s.exactScanMax+1. Recall then filters on the
// plain list, which the planner can see, instead of joining namespaces.
func (s *store) scope(ctx context.Context, q querier, names []string) (live []string, size int, err error) {
	rows, _ := q.Query(ctx, `WITH live AS (
			SELECT coalesce(array_agg(name), '{}') AS names FROM `+s.ns+`
			WHERE name = ANY ($1) AND (expires_at IS NULL OR expires_at > now()))
		SELECT names, (SELECT count(*) FROM (SELECT 1 FROM `+s.recs+` r WHERE r.namespace = ANY (names) LIMIT $2) c)
		FROM live`, names, s.exactScanMax+1)
	_, err = pgx.ForEachRow(rows, []any{&live, &size}, func() error { return nil })
	return live, size, err
}

func (s *store) search(ctx context.Context, q querier, p searchPlan) ([]memory, error) {
	live, size, err := s.scope(ctx, q, p.namespaces)
	if err != nil || len(live) == 0 {
		return nil, err
	}
	args := []any{live}
	param := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	filter := "r.namespace = ANY ($1) AND (r.expires_at IS NULL OR r.expires_at > now())"
	if len(p.kinds) > 0 {
		filter += " AND r.kind = ANY(" + param(p.kinds) + ")"
	}
	if p.substring != "" {
		filter += " AND strpos(lower(r.content), lower(" + param(p.substring) + ")) > 0"
	}
	filterArgs := args // what filter refers to
	limit := param(p.limit)

	if p.vector == nil && p.tsquery == "" {
		rows, err := q.Query(ctx, "SELECT "+memoryColumns+" FROM "+s.recs+" r WHERE "+filter+
			" ORDER BY r.pin DESC, r.created_at DESC, r.id LIMIT "+limit, args...)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(row pgx.CollectableRow) (memory, error) { return scanMemory(row, false) })
	}

	var ctes, lists []string
	if p.vector != nil {
		related, err := s.neighbours(ctx, q, p, filter, size, filterArgs)
		if err != nil {
			return nil, err
		}
		ctes = append(ctes, `vec_ranked AS (SELECT id, rank FROM unnest(`+param(related)+`::uuid[]) WITH ORDINALITY AS v (id, rank))`)
		lists = append(lists, fmt.Sprintf("SELECT id, 1.0 / (%d + rank) AS s FROM vec_ranked", rrfK))
	}
	if p.tsquery != "" {
		k := param(p.candidates())
		tsq := param(p.tsquery)
		// The memories matching the query, with their rank: through the
		// GIN index over a large scope; over a small one (the platform's
		// usual workspace+team+org) by matching each of the scope's rows,
		// which the namespace index finds once, instead of intersecting the
		// whole table's GIN postings of every query word (for an 8-word OR
		// query most of the table). The match inside CASE keeps the
		// planner off the GIN index there.
		matched := `SELECT r.id, ts_rank_cd(r.content_tsv, query) AS tr
			FROM ` + s.recs + ` r, to_tsquery('english', ` + tsq + `) query
			WHERE ` + filter + ` AND r.content_tsv @@ query`
		if size <= s.exactScanMax {
			matched = `SELECT id, tr FROM (
				SELECT r.id, CASE WHEN r.content_tsv @@ query THEN ts_rank_cd(r.content_tsv, query) END AS tr
				FROM ` + s.recs + ` r, to_tsquery('english', ` + tsq + `) query WHERE ` + filter + `) m
			WHERE tr IS NOT NULL`
		}
		// Ranked with a top-k sort, then numbered.
		ctes = append(ctes, `fts AS (
			SELECT id, row_number() OVER (ORDER BY tr DESC, id) AS rank FROM (
				`+matched+` ORDER BY tr DESC, id LIMIT `+k+`) top)`)
		lists = append(lists, fmt.Sprintf("SELECT id, 1.0 / (%d + rank) AS s FROM fts", rrfK))
	}
	// Pinned memories come first among the related ones; an unrelated
	// pinned memory is not brought in (a query nothing relates to returns
	// nothing).
	ctes = append(ctes, `fused AS (SELECT id, sum(s) AS score FROM (`+strings.Join(lists, " UNION ALL ")+`) c GROUP BY id)`)

	rows, err := q.Query(ctx, "WITH "+strings.Join(ctes, ",\n")+
		"\nSELECT "+memoryColumns+", f.score::float8 FROM fused f JOIN "+s.recs+" r ON r.id = f.id WHERE "+filter+
		" ORDER BY r.pin DESC, f.score DESC, r.created_at DESC, r.id LIMIT "+limit, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (memory, error) { return scanMemory(row, true) })
}

// neighbours returns the ids of the vector list, nearest first, keeping only
// those at least p.minSimilarity similar to the query. The floor is applied
// to the nearest candidates after the LIMIT rather than in the WHERE clause:
// as a filter it would make an HNSW iterative scan of a query nothing relates
// to walk max_scan_tuples rows looking for matches that do not exist.
func (s *store) neighbours(ctx context.Context, q querier, p searchPlan, filter string, size int, args []any) ([]string, error) {
	args = append(args[:len(args):len(args)], pgvector.NewVector(p.vector), p.candidates())
	v, k := fmt.Sprintf("$%d", len(args)-1), fmt.Sprintf("$%d", len(args))
	order := "r.embedding <=> " + v // what the HNSW index serves
	if size <= s.exactScanMax {
		order = "(" + order + ") + 0" // what it cannot: exact
	}
	// relaxed_order iterative scans may return rows slightly out of order,
	// so the rank is taken from the exact distance.
	from := `SELECT r.id, r.content, r.embedding <=> ` + v + ` AS dist FROM ` + s.recs + ` r
			WHERE ` + filter + ` AND r.embedding IS NOT NULL ORDER BY ` + order + ` LIMIT ` + k
	if size > s.exactScanMax {
		// The HNSW index is in memory_vectors, filled off the write path
		// (vectorindex.go): its nearest, and the still queued memories'
		// nearest by exact distance.
		from = `(SELECT r.id, r.content, r.embedding <=> ` + v + ` AS dist FROM ` + s.vecs + ` x JOIN ` + s.recs + ` r ON r.id = x.id
			WHERE ` + filter + ` AND r.embedding IS NOT NULL ORDER BY x.embedding <=> (` + v + `::vector)::halfvec LIMIT ` + k + `)
		UNION ALL
		(SELECT r.id, r.content, r.embedding <=> ` + v + ` AS dist FROM ` + s.queue + ` w JOIN ` + s.recs + ` r ON r.id = w.id
			WHERE ` + filter + ` AND r.embedding IS NOT NULL ORDER BY dist LIMIT ` + k + `)`
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT ON (dist, id) id, content, dist FROM (`+from+`) c
		ORDER BY dist, id LIMIT `+k, args...)
	if err != nil {
		return nil, err
	}
	type neighbour struct {
		id  string
		sim float64
	}
	var kept []neighbour
	var id, content string
	var dist float64
	_, err = pgx.ForEachRow(rows, []any{&id, &content, &dist}, func() error {
		sim := 1 - dist
		if p.similarity != nil {
			sim = p.similarity(content)
		}
		if p.minSimilarity <= 0 || sim >= p.minSimilarity { // 0: the floor is off

			kept = append(kept, neighbour{id, sim})
		}
		return nil
	})
	// The exact measure ranks too: it is what the hashed distance estimates.
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].sim > kept[j].sim })
	related := make([]string, len(kept))
	for i, n := range kept {
		related[i] = n.id
	}
	return related, err
}
