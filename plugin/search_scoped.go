package plugin

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// searchScoped is recall over a small scope (at most exactScanMax memories,
// the platform's usual workspace+team+org): the same lists and the same fusion
// as search. The vector list comes from neighbours, computed exactly over the
// scope and cut at the relevance floor; the full-text list is computed in one
// pass over the scope's rows, which the namespace index finds once, instead
// of intersecting the whole table's GIN postings of every query word (for an
// 8-word OR query most of the table). Pinned memories come first among the
// related ones only: a query nothing relates to returns nothing.
func (s *store) searchScoped(ctx context.Context, q querier, p searchPlan, live []string) ([]memory, error) {
	args := []any{live}
	param := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	filter := "r.namespace = ANY ($1) AND (r.expires_at IS NULL OR r.expires_at > now())"
	if len(p.kinds) > 0 {
		filter += " AND r.kind = ANY(" + param(p.kinds) + ")"
	}
	filterArgs := args
	limit := param(p.limit)

	var ctes, lists []string
	if p.vector != nil {
		related, err := s.neighbours(ctx, q, p, filter, s.exactScanMax, filterArgs)
		if err != nil {
			return nil, err
		}
		ctes = append(ctes, `vec_ranked AS (SELECT id, rank FROM unnest(`+param(related)+`::uuid[]) WITH ORDINALITY AS v (id, rank))`)
		lists = append(lists, fmt.Sprintf("SELECT id, 1.0 / (%d + rank) AS s FROM vec_ranked", rrfK))
	}
	if p.tsquery != "" {
		k := param(p.candidates())
		ctes = append(ctes, `scoped AS MATERIALIZED (
			SELECT r.id, CASE WHEN r.content_tsv @@ query THEN ts_rank_cd(r.content_tsv, query) END AS tr
			FROM `+s.recs+` r, to_tsquery('english', `+param(p.tsquery)+`) query WHERE `+filter+`)`)
		lists = append(lists, fmt.Sprintf(`(SELECT id, 1.0 / (%d + row_number() OVER (ORDER BY tr DESC, id)) AS s
			FROM scoped WHERE tr IS NOT NULL ORDER BY tr DESC, id LIMIT %s)`, rrfK, k))
	}
	ctes = append(ctes, `fused AS (SELECT id, sum(s) AS score FROM (`+strings.Join(lists, " UNION ALL ")+`) c GROUP BY id)`)
	rows, err := q.Query(ctx, "WITH "+strings.Join(ctes, ",\n")+`
		SELECT `+memoryColumns+`, f.score::float8 FROM fused f JOIN `+s.recs+` r ON r.id = f.id WHERE `+filter+`
		ORDER BY r.pin DESC, f.score DESC, r.created_at DESC, r.id LIMIT `+limit, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (memory, error) { return scanMemory(row, true) })
}
