package plugin

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
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
func tsqueryText(words []string) string { return anyOfTsquery(words) }

// anyOfTsquery is the tsquery text 'a' | 'b' | ...: each string quoted, its
// backslashes and quotes escaped, so that none of its characters acts as a
// tsquery operator.
func anyOfTsquery(tokens []string) string {
	quoted := make([]string, len(tokens))
	for i, t := range tokens {
		quoted[i] = "'" + strings.ReplaceAll(strings.ReplaceAll(t, `\`, `\\`), "'", "''") + "'"
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
//   - counts, size: how many memories each holds, and they together,
//     counted up to s.exactScanMax+1. The vector list has two branches,
//     gated on the size by a one-time filter, so the branch not taken costs
//     nothing: over a small scope (the platform's usual workspace+team+org)
//     it is exact, read from memory_vectors' namespace btree by index-only
//     scans where that holds the whole namespace, from memory_records
//     otherwise (scope.go); over a large one it comes from the HNSW index
//     (iterative scans) and the queue.
//   - the full-text list, at any size, is one scan of the GIN index on each
//     memory's words and namespace (migration 0004).
//
// Only the candidates of the two lists are read from memory_records, by
// id, once.
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
	// The conditions on a memory (alias a) besides its namespace.
	var kinds, substring string
	if len(p.kinds) > 0 {
		kinds = param(p.kinds)
	}
	if p.substring != "" {
		substring = param(p.substring)
	}
	filterOf := func(a string) string {
		f := "(" + a + ".expires_at IS NULL OR " + a + ".expires_at > now())"
		if kinds != "" {
			f += " AND " + a + ".kind = ANY(" + kinds + ")"
		}
		if substring != "" {
			f += " AND strpos(lower(" + a + ".content), lower(" + substring + ")) > 0"
		}
		return f
	}
	filter := filterOf("r")
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
	// Each namespace's memories, counted up to s.exactScanMax+1 (an
	// index-only count of the namespace btree): their sum picks the branch,
	// and a namespace is read from memory_vectors only where it holds them
	// all (below).
	ctes = append(ctes, `counts AS (SELECT s.name, (SELECT count(*) FROM (SELECT FROM `+s.recs+` r
			WHERE r.namespace = s.name LIMIT `+exactMax+` + 1) c) AS n
		FROM unnest(`+live+`) AS s (name))`,
		`size AS (SELECT coalesce(sum(n), 0) AS n FROM counts)`)
	isSmall, isLarge := "(SELECT n FROM size) <= "+exactMax, "(SELECT n FROM size) > "+exactMax
	var lists []string // the CTEs of the lists
	vecColumn, ftsColumn := "NULL::float8", "NULL::float4"
	if p.vector != nil {
		v := param(pgvector.NewVector(p.vector))
		vh := param(pgvector.NewHalfVector(normalized(p.vector)))
		ctes = append(ctes, s.smallVectorList(p, v, vh, k, isSmall, filterOf)...)
		// On the large branch the namespace test is an expression no index
		// serves, so that the HNSW index is the plan whatever the generic
		// estimate of the scope. relaxed_order iterative scans may return
		// rows slightly out of order: the rank comes from the distance.
		// The HNSW index is on memory_vectors, filled off the write path
		// (vectorindex.go): the large branch takes its nearest, and the
		// still queued memories' nearest by exact distance, so that a
		// memory is found from its 201 on.
		largeScope := isLarge + ` AND (r.namespace || '') = ANY (` + live + `) AND ` + filter + ` AND r.embedding IS NOT NULL`
		ctes = append(ctes, `vec_large AS (SELECT id FROM (
				(SELECT r.id, r.embedding <=> `+v+` AS dist FROM `+s.vecs+` x JOIN `+s.recs+` r ON r.id = x.id
					WHERE `+largeScope+` ORDER BY x.embedding <=> `+vh+` LIMIT `+k+`)
				UNION ALL
				(SELECT r.id, r.embedding <=> `+v+` AS dist FROM `+s.queue+` w JOIN `+s.recs+` r ON r.id = w.id
					WHERE `+largeScope+` ORDER BY dist LIMIT `+k+`)) c
				ORDER BY dist, id LIMIT `+k+`)`,
			`vec AS (SELECT id FROM vec_small UNION SELECT id FROM vec_large)`)
		// The exact distance of each candidate of the list, from its own
		// row, which also rechecks an indexed copy's namespace and filter.
		vecColumn = `CASE WHEN v.id IS NOT NULL AND r.namespace = ANY (` + live + `) AND ` + filter + `
			THEN r.embedding <=> ` + v + ` END`
		lists = append(lists, "vec")
	}
	if p.tsquery != "" {
		// Whatever the scope's size, one scan of the GIN index on the
		// memories' words and namespace (migration 0004) finds the matches
		// of any of the query's words in any of the scope's namespaces: its
		// namespaces' short postings lead the scan through the words' long
		// ones. Only the matches are read, for their rank. A tsquery of
		// stop words only is empty, and empty AND the namespaces would be
		// the namespaces alone: numnode rules it out.
		// tq is materialised: inlined, to_tsquery would parse the query
		// again for each match's rank.
		ctes = append(ctes, `tq AS MATERIALIZED (SELECT to_tsquery('english', `+param(p.tsquery)+`) AS query),
		fts AS (SELECT r.id, ts_rank_cd(r.content_tsv, tq.query) AS tr FROM `+s.recs+` r, tq
			WHERE (r.content_tsv || array_to_tsvector(ARRAY[' ' || left(r.namespace, `+strconv.Itoa(nsLexemeMax)+`)])) @@ (tq.query && `+param(namespaceTsquery(p.namespaces))+`::tsquery)
				AND numnode(tq.query) > 0 AND (r.namespace || '') = ANY (`+live+`) AND `+filter+`
			ORDER BY tr DESC, id LIMIT `+k+`)`)
		lists = append(lists, "fts")
	}
	// The candidates are those of either list, with their distance and
	// full-text rank (NULL: not in that list), read by id once.
	joins, ids := "", []string{}
	for _, l := range lists {
		ids = append(ids, "SELECT id FROM "+l)
		if l == "vec" {
			joins += " LEFT JOIN vec v ON v.id = c.id"
		} else {
			ftsColumn, joins = "f.tr", joins+" LEFT JOIN fts f ON f.id = c.id"
		}
	}
	rows, err := q.Query(ctx, "WITH "+strings.Join(ctes, ",\n")+
		"\nSELECT "+memoryColumns+", "+vecColumn+", "+ftsColumn+" FROM ("+strings.Join(ids, " UNION ")+") c JOIN "+s.recs+" r ON r.id = c.id"+joins, args...)
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
	for _, c := range fuse(nearest(buf.cands, p.candidates()), p) {
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
	// As nearest ordered them (NaN last, as PostgreSQL): the stable
	// re-rank below keeps this order among equally similar neighbours.
	slices.SortFunc(vec, func(a, b *candidate) int {
		if c := compareFloat8(a.dist, b.dist); c != 0 {
			return c
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
