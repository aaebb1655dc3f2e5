package backfill

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A Row is one v1 agent_memories row, without the columns the backfill never
// sends (embedding, content_tsv).
type Row struct {
	ID          string
	WorkspaceID string // "" when NULL
	Content     string
	Scope       string
	CreatedAt   *time.Time
	UpdatedAt   *time.Time
	Namespace   *string // the v1 namespace tag; nil when the column does not exist
}

// Columns says which optional agent_memories columns this tenant has.
type Columns struct {
	Namespace  bool `json:"namespace"`
	Embedding  bool `json:"embedding"`
	ContentTSV bool `json:"content_tsv"`
}

// A Source reads the v1 tables. Every session it opens is read-only
// (default_transaction_read_only), so no code path of the backfill can write to
// the platform database, and a role with SELECT on the two tables is enough.
type Source struct {
	pool *pgxpool.Pool
	cols Columns
}

// OpenSource connects to the platform database and checks that the v1 tables
// are there. The caller closes it.
func OpenSource(ctx context.Context, databaseURL string) (*Source, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL does not parse: %w", err)
	}
	cfg.MaxConns = 2
	cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	cfg.ConnConfig.RuntimeParams["application_name"] = "memory-backfill"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting: %w", err)
	}
	s := &Source{pool: pool}
	if err := s.detect(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the connections.
func (s *Source) Close() { s.pool.Close() }

// Columns returns the optional columns found by OpenSource.
func (s *Source) Columns() Columns { return s.cols }

// detect finds the two tables where the search_path puts them (the queries
// below resolve names the same way) and the optional columns of agent_memories.
func (s *Source) detect(ctx context.Context) error {
	for _, table := range []string{"workspaces", "agent_memories"} {
		var found bool
		if err := s.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&found); err != nil {
			return fmt.Errorf("reading the database: %w", err)
		}
		if !found {
			return fmt.Errorf("table %s not found in the search_path of DATABASE_URL: is this the platform's v1 database?", table)
		}
	}
	rows, err := s.pool.Query(ctx, `
		SELECT column_name FROM information_schema.columns
		WHERE table_name = 'agent_memories'
		  AND table_schema = (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		                      WHERE c.oid = to_regclass('agent_memories'))`)
	if err != nil {
		return fmt.Errorf("reading agent_memories' columns: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("reading agent_memories' columns: %w", err)
	}
	for _, n := range names {
		switch n {
		case "namespace":
			s.cols.Namespace = true
		case "embedding":
			s.cols.Embedding = true
		case "content_tsv":
			s.cols.ContentTSV = true
		}
	}
	return nil
}

// Workspaces reads the whole workspace tree. It is small next to the memories
// (one row per workspace, three short columns).
func (s *Source) Workspaces(ctx context.Context) ([]Workspace, error) {
	rows, err := s.pool.Query(ctx, `SELECT id::text, coalesce(parent_id::text, ''), coalesce(status = 'removed', false) FROM workspaces`)
	if err != nil {
		return nil, fmt.Errorf("reading workspaces: %w", err)
	}
	ws, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Workspace, error) {
		var w Workspace
		err := r.Scan(&w.ID, &w.ParentID, &w.Removed)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading workspaces: %w", err)
	}
	return ws, nil
}

// Count returns how many memories a run will scan (for the progress bar only:
// rows written meanwhile may change it). workspaces nil means all.
func (s *Source) Count(ctx context.Context, workspaces []string) (int64, error) {
	var n int64
	var err error
	if workspaces == nil {
		err = s.pool.QueryRow(ctx, `SELECT count(*) FROM agent_memories`).Scan(&n)
	} else {
		err = s.pool.QueryRow(ctx, `SELECT count(*) FROM agent_memories WHERE workspace_id = ANY($1::uuid[])`, workspaces).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("counting agent_memories: %w", err)
	}
	return n, nil
}

// Page returns up to limit memories with an id greater than after, in id order:
// keyset pagination, so the table is never held in memory, no cursor or long
// transaction pins a snapshot, and a page costs an index range scan however far
// the run has got. after "" starts at the beginning; workspaces nil means all.
func (s *Source) Page(ctx context.Context, after string, limit int, workspaces []string) ([]Row, error) {
	if after == "" {
		after = "00000000-0000-0000-0000-000000000000"
	}
	args := []any{after, limit}
	if workspaces != nil {
		args = append(args, workspaces)
	}
	rows, err := s.pool.Query(ctx, s.pageSQL(workspaces != nil), args...)
	if err != nil {
		return nil, fmt.Errorf("reading agent_memories after %s: %w", after, err)
	}
	page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Row, error) {
		var m Row
		dest := []any{&m.ID, &m.WorkspaceID, &m.Content, &m.Scope, &m.CreatedAt, &m.UpdatedAt}
		if s.cols.Namespace {
			dest = append(dest, &m.Namespace)
		}
		err := r.Scan(dest...)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading agent_memories after %s: %w", after, err)
	}
	return page, nil
}

// pageSQL is Page's query: $1 the last id seen, $2 the page size, $3 the
// workspaces when filtered. ORDER BY m.id names the column, not the id::text
// output: ordering by the text would sort the whole table for every page
// instead of walking the primary key index.
func (s *Source) pageSQL(filtered bool) string {
	cols := "m.id::text AS id, coalesce(m.workspace_id::text, ''), m.content, m.scope, m.created_at, m.updated_at"
	if s.cols.Namespace {
		cols += ", m.namespace"
	}
	sql := "SELECT " + cols + " FROM agent_memories m WHERE m.id > $1"
	if filtered {
		sql += " AND m.workspace_id = ANY($3::uuid[])"
	}
	return sql + " ORDER BY m.id LIMIT $2"
}

// Scan calls fn with every page of memories in id order, of the given
// workspaces only unless workspaces is nil.
func (s *Source) Scan(ctx context.Context, batch int, workspaces []string, fn func([]Row) error) error {
	after := ""
	for {
		page, err := s.Page(ctx, after, batch, workspaces)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		if len(page) < batch {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// SampleWorkspaces picks n workspaces at random among those that have
// memories (all of them when there are n or fewer) and returns them in id
// order, with how many there were to choose from.
func (s *Source) SampleWorkspaces(ctx context.Context, n int) (chosen []string, of int, err error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT workspace_id::text FROM agent_memories WHERE workspace_id IS NOT NULL`)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the workspaces of agent_memories: %w", err)
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, 0, fmt.Errorf("reading the workspaces of agent_memories: %w", err)
	}
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	chosen = append([]string{}, all[:min(n, len(all))]...) // never nil: nil means every workspace
	sort.Strings(chosen)
	return chosen, len(all), nil
}
