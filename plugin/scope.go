package plugin

import (
	"cmp"
	"math"
	"slices"
)

// A small scope's vector list (scope within s.exactScanMax memories) is
// exact: the k memories nearest the query by the cosine distance of their
// own vector column. Reading each memory of the scope from memory_records
// cost a heap page per memory (namespaces interleave by arrival), so the
// list is chosen from memory_vectors instead (migration 0004): its
// namespace btree INCLUDEs each indexed memory's halfvec, kind and expiry,
// and an index-only scan of it reads a scope's vectors from a few leaf
// pages.
//
// A namespace is read that way only when memory_vectors holds as many of
// its memories as memory_records (counts): a write drops its memory's
// indexed row in its own statement and queues it (store.queueWritten), so a
// namespace with a memory queued, moved in, or not yet embedded (an
// adoption in progress) has fewer, and is read from memory_records as
// before; one a memory moved out of has as many as it holds. The count
// misses one case: a memory rewritten while an indexer batch holds its id
// keeps, until the next batch, the vector that batch read (the old one) in
// memory_vectors, while it is queued again (indexVectors). So a namespace
// with a queued memory (the queue holds the namespace written) is read
// from memory_records too. The rows
// chosen are then read by id from memory_records, which rechecks them and
// gives their exact distance.
//
// The halfvec distance is within 0.0025 of the exact one (both vectors
// l2-normalised: each component rounded to half precision is off by at most
// 2^-11 of itself, so the cosine by at most about 4 × 2^-11 ≈ 0.002), so
// every memory of the exact top k has a halfvec distance within twice that,
// halfvecWindow, of the k-th smallest halfvec distance: the window read
// holds the exact top k, and the exact distances order it. Measured at
// 100,000 memories: the largest difference was 0.0001.

// nearest keeps the vector list to the k candidates nearest the query, by
// exact distance then id as PostgreSQL orders them (NaN last: a zero
// vector's distance): the statement returns a superset (see
// smallVectorList). A candidate left in neither list is dropped.
func nearest(cands []candidate, k int) []candidate {
	var vec []*candidate
	for i := range cands {
		if cands[i].inVec {
			vec = append(vec, &cands[i])
		}
	}
	if len(vec) <= k {
		return cands
	}
	slices.SortFunc(vec, func(a, b *candidate) int {
		if c := compareFloat8(a.dist, b.dist); c != 0 {
			return c
		}
		return compareIDs(a, b)
	})
	for _, c := range vec[k:] {
		c.inVec = false
	}
	kept := cands[:0] // in place: buf's candidates, which fuse then ranks
	for _, c := range cands {
		if c.inVec || c.inFTS {
			kept = append(kept, c)
		}
	}
	return kept
}

// compareFloat8 orders as PostgreSQL orders float8: NaN after every number.
func compareFloat8(a, b float64) int {
	switch an, bn := math.IsNaN(a), math.IsNaN(b); {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return cmp.Compare(a, b)
}

// nsLexemeMax is how many characters of a namespace's name its full-text
// lexeme holds (migration 0004 writes the same number into its index; a
// lexeme is at most 2 KB): matches are rechecked against the name itself.
const nsLexemeMax = 500

// smallVectorList returns the CTEs of a small scope's vector list,
// vec_small (id): a superset of its k nearest memories, whose exact
// distances the statement's end reads from their rows (nearest keeps the
// k). v is the query vector, vh its normalised halfvec, filterOf the
// conditions on a memory (of an alias) besides its namespace.
func (s *store) smallVectorList(p searchPlan, v, vh, k, isSmall string, filterOf func(alias string) string) []string {
	// The k nearest memories of the namespaces read from memory_records.
	heap := func(which string) string {
		return `(SELECT r.id FROM counts c, LATERAL (SELECT r.id, r.embedding FROM ` + s.recs + ` r
			WHERE r.namespace = c.name AND ` + filterOf("r") + ` OFFSET 0) r
		WHERE ` + isSmall + ` AND r.embedding IS NOT NULL` + which + `
		ORDER BY r.embedding <=> ` + v + `, r.id LIMIT ` + k + `)`
	}
	// A substring filter needs each memory's content: no namespace is
	// read from memory_vectors then.
	if s.heapScan || p.substring != "" {
		return []string{`vec_small AS ` + heap("")}
	}
	return []string{
		// whole: whether memory_vectors holds every memory of a namespace
		// (an index-only count) and none of its memories is queued (an
		// index probe; see the count's blind spot above).
		`whole AS (SELECT c.name, c.n = (SELECT count(*) FROM ` + s.vecs + ` x WHERE x.namespace = c.name)
				AND NOT EXISTS (SELECT FROM ` + s.queue + ` w WHERE w.namespace = c.name) AS whole
			FROM counts c WHERE ` + isSmall + `)`,
		// nar: the indexed memories of those namespaces that pass the
		// filter as indexed (their rows recheck it), with their halfvec
		// distance.
		`nar AS (SELECT x.id, x.hd FROM whole c, LATERAL (
			SELECT x.id, x.embedding <=> ` + vh + ` AS hd FROM ` + s.vecs + ` x
			WHERE x.namespace = c.name AND ` + filterOf("x") + ` OFFSET 0) x
		WHERE c.whole)`,
		// The k-th smallest halfvec distance (NaN, which sorts last and
		// admits every row, when fewer than k: a zero vector's distance
		// is NaN too).
		`kth AS (SELECT hd FROM nar ORDER BY hd LIMIT 1 OFFSET ` + k + ` - 1)`,
		`vec_small AS (SELECT id FROM nar WHERE hd <= coalesce((SELECT hd FROM kth) + ` + halfvecWindow + `, 'NaN')
			UNION ALL
			` + heap(` AND c.name IN (SELECT name FROM whole WHERE NOT whole)`) + `)`,
	}
}

// halfvecWindow is twice the largest difference between a halfvec and an
// exact distance (above), as SQL.
const halfvecWindow = "0.005"

// normalized returns v scaled to length 1 (a zero vector unchanged), as
// memory_vectors stores its vectors: rounded to halfvec, a normalised
// vector's components lose at most 2^-11 of themselves, whatever the scale
// of the vector asked.
func normalized(v []float32) []float32 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if sum == 0 {
		return out
	}
	norm := math.Sqrt(sum)
	for i, x := range v {
		out[i] = float32(float64(x) / norm)
	}
	return out
}

// namespaceTsquery is a tsquery matching the lexeme of any of the names
// (see nsLexemeMax): a space, then the name's first nsLexemeMax characters.
func namespaceTsquery(names []string) string {
	lexemes := make([]string, len(names))
	for i, n := range names {
		if r := []rune(n); len(r) > nsLexemeMax {
			n = string(r[:nsLexemeMax])
		}
		lexemes[i] = " " + n
	}
	return anyOfTsquery(lexemes)
}
