package plugin

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
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

// One recall is one statement, so one round trip, planned once per pooled
// connection (the session runs with plan_cache_mode = force_generic_plan:
// planning a statement of this size each time cost PostgreSQL about as
// much as running it). Its plan therefore cannot depend on the namespaces
// asked; what it needs to know about them the statement finds out itself:
//
//   - live: those of the requested namespaces that exist and have not
//     expired;
//   - size: how many memories they hold, counted up to s.exactScanMax+1.
//     Each list has two branches, gated on it by a one-time filter, so the
//     branch not taken costs nothing: over a small scope (the platform's
//     usual workspace+team+org) every memory of the scope is read once,
//     namespace by namespace through the namespace index, and measured
//     exactly for both lists; over a large one the vector list comes from
//     the HNSW index (iterative scans) and the full-text list from the GIN
//     index.
//
// The statement returns every candidate of either list with its distance
// and full-text rank, and recall ranks them here: the vector list's floor
// and re-ranking need each neighbour's content (see neighbours), and the
// fusion follows it.
func (s *store) search(ctx context.Context, q querier, p searchPlan) ([]memory, error) {
	args := []any{p.namespaces}
	param := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	live := "(SELECT names FROM live)::text[]" // an array, not a subquery, for = ANY
	// Each name asked is looked up by the primary key (OFFSET 0 keeps the
	// generic plan from scanning the whole table instead).
	ctes := []string{`live AS (SELECT coalesce(array_agg(DISTINCT n.name), '{}') AS names
		FROM unnest($1::text[]) AS a (name), LATERAL (SELECT n.name FROM ` + s.ns + ` n
			WHERE n.name = a.name AND (n.expires_at IS NULL OR n.expires_at > now()) OFFSET 0) n)`}
	// The conditions on a memory besides its namespace.
	filter := "(r.expires_at IS NULL OR r.expires_at > now())"
	if len(p.kinds) > 0 {
		filter += " AND r.kind = ANY(" + param(p.kinds) + ")"
	}
	if p.substring != "" {
		filter += " AND strpos(lower(r.content), lower(" + param(p.substring) + ")) > 0"
	}
	if p.vector == nil && p.tsquery == "" {
		rows, err := q.Query(ctx, "WITH "+ctes[0]+"\nSELECT "+memoryColumns+" FROM "+s.recs+" r WHERE r.namespace = ANY ("+live+
			") AND "+filter+" ORDER BY r.pin DESC, r.created_at DESC, r.id LIMIT "+param(p.limit), args...)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(row pgx.CollectableRow) (memory, error) { return scanMemory(row, false) })
	}

	k := param(p.candidates())
	exactMax := param(s.exactScanMax)
	ctes = append(ctes, `size AS (SELECT count(*) AS n FROM (
		SELECT 1 FROM `+s.recs+` r WHERE r.namespace = ANY (`+live+`) LIMIT `+exactMax+` + 1) c)`)
	isSmall, isLarge := "(SELECT n FROM size) <= "+exactMax, "(SELECT n FROM size) > "+exactMax
	// Over a small scope each of its memories is read once, namespace by
	// namespace through the namespace index whatever the generic plan
	// guesses of the namespaces' sizes (OFFSET 0 keeps the subquery a
	// parameterised scan per namespace), and measured for both lists: its
	// exact distance, and its full-text rank when it matches (the match
	// inside CASE keeps the planner off the GIN index, whose postings of
	// every query word, for an 8-word OR query most of the table, would be
	// intersected instead).
	v, tsq := "", ""
	dist, tr, from := "NULL::float8", "NULL::float4", ""
	if p.vector != nil {
		v = param(pgvector.NewVector(p.vector))
		dist = "r.embedding <=> " + v
	}
	if p.tsquery != "" {
		tsq = param(p.tsquery)
		tr = "CASE WHEN r.content_tsv @@ query THEN ts_rank_cd(r.content_tsv, query) END"
		from = "to_tsquery('english', " + tsq + ") query, "
	}
	// The scope's rows keep the columns recall answers with, so that the
	// candidates need not be looked up again by id.
	ctes = append(ctes, `scoped AS (SELECT r.id, r.namespace, r.content, r.kind, r.source, r.expires_at, r.propagation, r.pin,
			r.metadata, r.created_at, `+dist+` AS dist, `+tr+` AS tr
		FROM `+from+`unnest(`+live+`) AS s (name), LATERAL (SELECT * FROM `+s.recs+` r
			WHERE r.namespace = s.name AND `+filter+` OFFSET 0) r
		WHERE `+isSmall+`)`)
	// Each list: its top k over a small scope, or through its index over a
	// large one; the candidates are those of either list, with their
	// distance and full-text rank (NULL: not in that list).
	var small, large []string // the candidates' ids of each branch, per list
	vecColumn, ftsColumn := "NULL::float8", "NULL::float4"
	var smallJoins, largeJoins string
	if p.vector != nil {
		// On the large branch the namespace test is an expression no index
		// serves, so that the HNSW index is the plan whatever the generic
		// estimate of the scope. relaxed_order iterative scans may return
		// rows slightly out of order: the rank comes from the distance.
		// The HNSW index is on memory_vectors, filled off the write path
		// (vectorindex.go): the large branch takes its nearest, and the
		// still queued memories' nearest by exact distance, so that a
		// memory is found from its 201 on.
		largeScope := isLarge + ` AND (r.namespace || '') = ANY (` + live + `) AND ` + filter + ` AND r.embedding IS NOT NULL`
		ctes = append(ctes, `vec_small AS (SELECT id, dist FROM scoped WHERE dist IS NOT NULL ORDER BY dist, id LIMIT `+k+`)`,
			`vec_large AS (SELECT DISTINCT ON (dist, id) id, dist FROM (
				(SELECT r.id, r.embedding <=> `+v+` AS dist FROM `+s.vecs+` x JOIN `+s.recs+` r ON r.id = x.id
					WHERE `+largeScope+` ORDER BY x.embedding <=> (`+v+`::vector)::halfvec LIMIT `+k+`)
				UNION ALL
				(SELECT r.id, r.embedding <=> `+v+` AS dist FROM `+s.queue+` w JOIN `+s.recs+` r ON r.id = w.id
					WHERE `+largeScope+` ORDER BY dist LIMIT `+k+`)) c
				ORDER BY dist, id LIMIT `+k+`)`)
		small, large = append(small, "SELECT id FROM vec_small"), append(large, "SELECT id FROM vec_large")
		vecColumn = "v.dist"
		smallJoins += " LEFT JOIN vec_small v ON v.id = r.id"
		largeJoins += " LEFT JOIN vec_large v ON v.id = r.id"
	}
	if p.tsquery != "" {
		ctes = append(ctes, `fts_small AS (SELECT id, tr FROM scoped WHERE tr IS NOT NULL ORDER BY tr DESC, id LIMIT `+k+`)`,
			`fts_large AS (SELECT r.id, ts_rank_cd(r.content_tsv, query) AS tr FROM `+s.recs+` r, to_tsquery('english', `+tsq+`) query
				WHERE `+isLarge+` AND r.namespace = ANY (`+live+`) AND `+filter+` AND r.content_tsv @@ query
				ORDER BY tr DESC, id LIMIT `+k+`)`)
		small, large = append(small, "SELECT id FROM fts_small"), append(large, "SELECT id FROM fts_large")
		ftsColumn = "f.tr"
		smallJoins += " LEFT JOIN fts_small f ON f.id = r.id"
		largeJoins += " LEFT JOIN fts_large f ON f.id = r.id"
	}
	columns := memoryColumns + ", " + vecColumn + ", " + ftsColumn
	rows, err := q.Query(ctx, "WITH "+strings.Join(ctes, ",\n")+
		"\nSELECT "+columns+" FROM scoped r"+smallJoins+" WHERE r.id IN ("+strings.Join(small, " UNION ALL ")+")"+
		"\nUNION ALL\nSELECT "+columns+" FROM ("+strings.Join(large, " UNION ")+") c JOIN "+s.recs+" r ON r.id = c.id"+largeJoins, args...)
	if err != nil {
		return nil, err
	}
	buf := rowBuffers.Get().(*recallRows)
	defer buf.release()
	if err := readRecallRows(rows, buf); err != nil {
		return nil, err
	}
	m := typeMaps.Get().(*pgtype.Map)
	defer typeMaps.Put(m)
	if err := buf.decodeRanking(m); err != nil {
		return nil, err
	}
	var out []memory
	for _, c := range fuse(buf.cands, p) {
		mem, err := buf.memory(m, c)
		if err != nil {
			return nil, err
		}
		score := c.score // c is in buf, which the next recall reuses
		mem.Score = &score
		out = append(out, mem)
	}
	return out, nil
}

// fuse ranks the candidates as recall answers, and returns p.limit of them.
// Each list is ranked as the statement selected it (nearest first; best
// full-text rank first; then by id), the vector list is re-ranked
// (neighbours), then each memory scores Σ 1/(rrfK + rank) over the lists it
// is in; pinned memories come first, then the higher score, the newer, the
// smaller id.
func fuse(cands []candidate, p searchPlan) []*candidate {
	var vec, fts []*candidate
	for i := range cands {
		c := &cands[i]
		c.score, c.ranked = 0, false
		if c.inVec {
			vec = append(vec, c)
		}
		if c.inFTS {
			fts = append(fts, c)
		}
	}
	slices.SortFunc(fts, func(a, b *candidate) int {
		if a.tr != b.tr {
			return cmp.Compare(b.tr, a.tr)
		}
		return compareIDs(a, b)
	})
	ranked := make([]*candidate, 0, len(cands))
	for i, c := range fts {
		c.score, c.ranked = 1/float64(rrfK+i+1), true
		ranked = append(ranked, c)
	}
	for i, c := range neighbours(vec, p) {
		c.score += 1 / float64(rrfK+i+1)
		if !c.ranked {
			c.ranked = true
			ranked = append(ranked, c)
		}
	}
	slices.SortFunc(ranked, func(a, b *candidate) int {
		switch {
		case a.pin != b.pin:
			if a.pin {
				return -1
			}
			return 1
		case a.score != b.score:
			return cmp.Compare(b.score, a.score)
		case !a.createdAt.Equal(b.createdAt):
			return b.createdAt.Compare(a.createdAt)
		}
		return compareIDs(a, b)
	})
	return ranked[:min(len(ranked), p.limit)]
}

// neighbours returns the vector list, best first, keeping only those at
// least p.minSimilarity similar to the query. The floor is applied to the
// nearest candidates after the LIMIT rather than in the WHERE clause: as a
// filter it would make an HNSW iterative scan of a query nothing relates to
// walk max_scan_tuples rows looking for matches that do not exist.
func neighbours(vec []*candidate, p searchPlan) []*candidate {
	slices.SortFunc(vec, func(a, b *candidate) int {
		if a.dist != b.dist {
			return cmp.Compare(a.dist, b.dist)
		}
		return compareIDs(a, b)
	})
	type neighbour struct {
		c   *candidate
		sim float64
	}
	kept := make([]neighbour, 0, len(vec))
	for _, c := range vec {
		sim := 1 - c.dist
		if p.similarity != nil {
			sim = p.similarity(c.content)
		}
		if p.minSimilarity <= 0 || sim >= p.minSimilarity { // 0: the floor is off
			kept = append(kept, neighbour{c, sim})
		}
	}
	// The exact measure ranks too: it is what the hashed distance estimates.
	slices.SortStableFunc(kept, func(a, b neighbour) int { return cmp.Compare(b.sim, a.sim) })
	out := vec[:0] // vec is read no more: its array holds the answer
	for _, n := range kept {
		out = append(out, n.c)
	}
	return out
}
