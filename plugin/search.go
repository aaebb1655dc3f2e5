package plugin

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
)

// Recall is hybrid. Two ranked candidate lists, nearest embeddings (HNSW,
// cosine) and full-text matches (GIN on a tsvector, ranked by ts_rank_cd), are
// fused by reciprocal rank fusion: score = Σ 1/(rrfK + rank) over the lists a
// memory appears in, so a memory both lists agree on beats one that tops only
// one of them, and neither list's raw scale matters. Pinned memories come
// first whatever their score (a pinned memory no list found scores 0). Without
// query text and embedding there is nothing to rank by relevance: memories come
// most recent first (pinned first) and score is 1/(rrfK + position), the value
// RRF would give that position in a single list.
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
	if size <= s.exactScanMax && (p.vector != nil || p.tsquery != "") {
		return s.searchScoped(ctx, q, p, live)
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
	limit := param(p.limit)

	if p.vector == nil && p.tsquery == "" {
		rows, err := q.Query(ctx, "SELECT "+memoryColumns+" FROM "+s.recs+" r WHERE "+filter+
			" ORDER BY r.pin DESC, r.created_at DESC, r.id LIMIT "+limit, args...)
		if err != nil {
			return nil, err
		}
		ms, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (memory, error) { return scanMemory(row, false) })
		for i := range ms {
			score := 1.0 / float64(rrfK+i+1)
			ms[i].Score = &score
		}
		return ms, err
	}

	var ctes, lists []string
	k := param(p.candidates())
	if p.vector != nil {
		v := param(pgvector.NewVector(p.vector))
		order := "r.embedding <=> " + v // what the HNSW index serves
		if size <= s.exactScanMax {
			order = "(" + order + ") + 0" // what it cannot: exact
		}
		// MATERIALIZED keeps the vector scan (with its LIMIT) a query of its
		// own; relaxed_order iterative scans may return rows slightly out of
		// order, so the rank is taken from the exact distance.
		ctes = append(ctes, `vec AS MATERIALIZED (
			SELECT r.id, r.embedding <=> `+v+` AS dist FROM `+s.recs+` r
			WHERE `+filter+` ORDER BY `+order+` LIMIT `+k+`)`,
			`vec_ranked AS (SELECT id, row_number() OVER (ORDER BY dist, id) AS rank FROM vec)`)
		lists = append(lists, fmt.Sprintf("SELECT id, 1.0 / (%d + rank) AS s FROM vec_ranked", rrfK))
	}
	if p.tsquery != "" {
		// Ranked with a top-k sort, then numbered.
		ctes = append(ctes, `fts AS (
			SELECT id, row_number() OVER (ORDER BY tr DESC, id) AS rank FROM (
				SELECT r.id, ts_rank_cd(r.content_tsv, query) AS tr
				FROM `+s.recs+` r, to_tsquery('english', `+param(p.tsquery)+`) query
				WHERE `+filter+` AND r.content_tsv @@ query ORDER BY tr DESC, r.id LIMIT `+k+`) top)`)
		lists = append(lists, fmt.Sprintf("SELECT id, 1.0 / (%d + rank) AS s FROM fts", rrfK))
	}
	ctes = append(ctes, `pinned AS (SELECT r.id FROM `+s.recs+` r WHERE `+filter+
		` AND r.pin ORDER BY r.created_at DESC, r.id LIMIT `+limit+`)`)
	lists = append(lists, "SELECT id, 0 AS s FROM pinned")
	ctes = append(ctes, `fused AS (SELECT id, sum(s) AS score FROM (`+strings.Join(lists, " UNION ALL ")+`) c GROUP BY id)`)

	rows, err := q.Query(ctx, "WITH "+strings.Join(ctes, ",\n")+
		"\nSELECT "+memoryColumns+", f.score::float8 FROM fused f JOIN "+s.recs+" r ON r.id = f.id"+
		" ORDER BY r.pin DESC, f.score DESC, r.created_at DESC, r.id LIMIT "+limit, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (memory, error) { return scanMemory(row, true) })
}
