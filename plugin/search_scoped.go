package plugin

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
)

// searchScoped is recall over a small scope (at most exactScanMax memories,
// the platform's usual workspace+team+org): the same lists and the same fusion
// as search, computed in one pass over the scope's rows instead of three. The
// namespace index finds the rows once; each row's distance and full-text
// match are computed from that one heap visit, and the vector, full-text and
// pinned lists are ranked from the materialised pass. Before, the vector list
// fetched the scope's rows, the full-text list fetched them again (or
// intersected the whole table's GIN postings of every query word, which for
// an 8-word OR query is most of the table), and the pinned list a third time.
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
	limit := param(p.limit)
	k := param(p.candidates())

	cols := []string{"r.id", "r.pin", "r.created_at"}
	from := s.recs + " r"
	var lists []string
	if p.vector != nil {
		cols = append(cols, "r.embedding <=> "+param(pgvector.NewVector(p.vector))+" AS dist")
		lists = append(lists, fmt.Sprintf(`SELECT id, 1.0 / (%d + row_number() OVER (ORDER BY dist, id)) AS s
			FROM scoped ORDER BY dist, id LIMIT %s`, rrfK, k))
	}
	if p.tsquery != "" {
		from += ", to_tsquery('english', " + param(p.tsquery) + ") query"
		cols = append(cols, "CASE WHEN r.content_tsv @@ query THEN ts_rank_cd(r.content_tsv, query) END AS tr")
		lists = append(lists, fmt.Sprintf(`SELECT id, 1.0 / (%d + row_number() OVER (ORDER BY tr DESC, id)) AS s
			FROM scoped WHERE tr IS NOT NULL ORDER BY tr DESC, id LIMIT %s`, rrfK, k))
	}
	lists = append(lists, "SELECT id, 0 AS s FROM scoped WHERE pin ORDER BY created_at DESC, id LIMIT "+limit)
	for i, l := range lists {
		lists[i] = "(" + l + ")"
	}
	rows, err := q.Query(ctx, `WITH scoped AS MATERIALIZED (SELECT `+strings.Join(cols, ", ")+` FROM `+from+` WHERE `+filter+`),
		fused AS (SELECT id, sum(s) AS score FROM (`+strings.Join(lists, " UNION ALL ")+`) c GROUP BY id)
		SELECT `+memoryColumns+`, f.score::float8 FROM fused f JOIN `+s.recs+` r ON r.id = f.id
		ORDER BY r.pin DESC, f.score DESC, r.created_at DESC, r.id LIMIT `+limit, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (memory, error) { return scanMemory(row, true) })
}
