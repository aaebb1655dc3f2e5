package plugin

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"
	"go.uber.org/zap"
)

// Adoption of the platform plugin's tables ends in the background: the boot
// (adopt_platform.sql) changed only the catalog, and what scans or writes
// every memory happens here, after the plugin serves, so that no amount of
// memories holds the health gate. Until it is done recall answers from full
// text and from the memories already embedded.
//
// Every step is resumable from what the database holds, so a crash or a stop
// at any point costs only the batch in flight:
//  1. embed the memories whose embedding is null, in batches keyed on id,
//     queueing each for the background vector indexer (vectorindex.go);
//  2. build the recency index with CREATE INDEX CONCURRENTLY (an
//     interrupted build leaves an invalid index, dropped and rebuilt);
//  3. make embedding NOT NULL, which is also the mark that adoption is over.

// AdoptionStatus is the progress of an adoption, reported in /v1/health as
// "adoption" while this process runs one.
type AdoptionStatus struct {
	// State is "waiting" (another plugin holds the adoption lock),
	// "embedding", "indexing", "done", or "failed" (Error says why; the next
	// boot resumes).
	State string `json:"state"`
	Done  int64  `json:"done"`  // memories embedded
	Total int64  `json:"total"` // memories in the schema
	Error string `json:"error,omitempty"`
}

// adoptionLock is the session advisory lock of the background adoption: two
// plugins on one database do it once.
const adoptionLock int64 = 0x6d656d61646f7074 // "memadopt"

// defaultAdoptBatch memories are embedded per round trip.
const defaultAdoptBatch = 500

// adoption holds the background job's state.
type adoption struct {
	status atomic.Pointer[AdoptionStatus]
	batch  int
	// afterBatch, when set (tests), runs after each embedded batch.
	afterBatch func()
}

// adopting tells whether the schema holds adopted memories that are not all
// embedded and indexed yet.
func (s *Service) adopting(ctx context.Context) (bool, error) {
	var nullable bool
	err := s.store.pool.QueryRow(ctx, `SELECT NOT attnotnull FROM pg_attribute
		WHERE attrelid = $1::regclass AND attname = 'embedding'`, s.store.recs).Scan(&nullable)
	return nullable, err
}

// FinishAdoption does what is left of adopting the platform plugin's tables
// (nothing, at once, on a schema this plugin created or finished adopting)
// and returns when it is done or ctx ends. Run it in the background once the
// plugin serves; an error is worth a log line, and the next boot resumes.
func (s *Service) FinishAdoption(ctx context.Context) error {
	err := s.finishAdoption(ctx)
	if err != nil && ctx.Err() == nil {
		// Health must not say "embedding" for the rest of the process's life.
		st := AdoptionStatus{State: "failed", Error: err.Error()}
		if last := s.adopt.status.Load(); last != nil {
			st.Done, st.Total = last.Done, last.Total
		}
		s.adopt.status.Store(&st)
	}
	return err
}

func (s *Service) finishAdoption(ctx context.Context) error {
	pending, err := s.adopting(ctx)
	if err != nil || !pending {
		return err
	}
	s.adopt.status.Store(&AdoptionStatus{State: "waiting"})
	conn, err := s.store.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", adoptionLock); err != nil {
		return fmt.Errorf("adoption: taking the lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", adoptionLock)
	// Another plugin may have finished while this one waited.
	if pending, err := s.adopting(ctx); err != nil || !pending {
		if err == nil {
			st := AdoptionStatus{State: "done"}
			err = conn.QueryRow(ctx, "SELECT count(*), count(*) FROM "+s.store.recs).Scan(&st.Done, &st.Total)
			s.adopt.status.Store(&st)
		}
		return err
	}
	start := time.Now()
	if err := s.embedAdopted(ctx, conn); err != nil {
		return err
	}
	st := *s.adopt.status.Load()
	st.State = "indexing"
	s.adopt.status.Store(&st)
	s.log.Info("adoption: every memory is embedded; building indexes", zap.Int64("memories", st.Total),
		zap.Duration("elapsed", time.Since(start)))
	if err := s.indexAdopted(ctx, conn); err != nil {
		return err
	}
	st.State = "done"
	s.adopt.status.Store(&st)
	s.log.Info("adoption finished: every memory is embedded and indexed", zap.Int64("memories", st.Total),
		zap.Duration("elapsed", time.Since(start)))
	return nil
}

// embedAdopted embeds every memory whose embedding is null, in id order.
func (s *Service) embedAdopted(ctx context.Context, conn *pgxpool.Conn) error {
	st := AdoptionStatus{State: "embedding"}
	err := conn.QueryRow(ctx, "SELECT count(*), count(embedding) FROM "+s.store.recs).Scan(&st.Total, &st.Done)
	if err != nil {
		return fmt.Errorf("adoption: counting memories: %w", err)
	}
	s.adopt.status.Store(&st)
	s.log.Info("adoption: embedding memories", zap.Int64("done", st.Done), zap.Int64("total", st.Total))
	lastLog := time.Now()
	after := "00000000-0000-0000-0000-000000000000"
	for {
		rows, _ := conn.Query(ctx, "SELECT id::text, content FROM "+s.store.recs+
			" WHERE embedding IS NULL AND id > $1 ORDER BY id LIMIT $2", after, s.adopt.batch)
		var ids, texts []string
		var id, content string
		if _, err := pgx.ForEachRow(rows, []any{&id, &content}, func() error {
			ids, texts = append(ids, id), append(texts, content)
			return nil
		}); err != nil {
			return fmt.Errorf("adoption: reading memories: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		vecs, err := s.embedRetrying(ctx, texts)
		if err != nil {
			return err
		}
		batch := &pgx.Batch{}
		for i := range ids {
			// A write since (which brings its own embedding, and queues
			// it) wins. The embedded memory is queued for the background
			// vector indexer (vectorindex.go).
			batch.Queue("WITH embedded AS (UPDATE "+s.store.recs+" SET embedding = $2 WHERE id = $1 AND embedding IS NULL RETURNING id, namespace) "+
				"INSERT INTO "+s.store.queue+" (id, namespace) SELECT id, namespace FROM embedded ON CONFLICT (id) DO NOTHING",
				ids[i], pgvector.NewVector(vecs[i]))
		}
		if err := conn.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("adoption: storing embeddings: %w", err)
		}
		after = ids[len(ids)-1]
		st.Done += int64(len(ids))
		st.Done = min(st.Done, st.Total)
		snapshot := st
		s.adopt.status.Store(&snapshot)
		if time.Since(lastLog) >= 10*time.Second {
			s.log.Info("adoption: embedding memories", zap.Int64("done", st.Done), zap.Int64("total", st.Total))
			lastLog = time.Now()
		}
		if s.adopt.afterBatch != nil {
			s.adopt.afterBatch()
		}
	}
}

// embedRetrying embeds texts, retrying a failing embedder (a provider that
// is down) with a growing pause until ctx ends: adoption waits for it rather
// than leaving memories unembedded.
func (s *Service) embedRetrying(ctx context.Context, texts []string) ([][]float32, error) {
	pause := time.Second
	for {
		vecs, err := s.embed.Embed(ctx, texts)
		if err == nil {
			return vecs, nil
		}
		s.log.Warn("adoption: embedding failed; retrying", zap.Duration("in", pause), zap.Error(err))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Minute)
	}
}

// adoptedIndexes are built concurrently once every memory is embedded. The
// HNSW index is not among them: it lives in memory_vectors (migration 0003),
// filled by the background vector indexer as memories are embedded.
var adoptedIndexes = []struct{ name, definition string }{
	// As in 0001_init.sql.
	{"memory_records_namespace_created_idx", "(namespace, created_at DESC)"},
}

// indexAdopted builds our indexes without blocking writes, drops the
// platform's namespace index they replace, and makes embedding NOT NULL.
func (s *Service) indexAdopted(ctx context.Context, conn *pgxpool.Conn) error {
	schema := s.cfg.Schema
	q := quoteIdent(schema)
	// An index build of many memories is faster when its sort fits in
	// memory.
	if _, err := conn.Exec(ctx, "SET maintenance_work_mem = '256MB'"); err != nil {
		return err
	}
	// The connection goes back to the pool: requests must not inherit it.
	defer conn.Exec(context.Background(), "RESET maintenance_work_mem")
	for _, ix := range adoptedIndexes {
		var valid *bool
		err := conn.QueryRow(ctx, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, schema, ix.name).Scan(&valid)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("adoption: %w", err)
		}
		if valid != nil && !*valid {
			// A build interrupted by a crash or a stop.
			s.log.Info("adoption: dropping an index whose build was interrupted", zap.String("index", ix.name))
			if _, err := conn.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+q+"."+quoteIdent(ix.name)); err != nil {
				return fmt.Errorf("adoption: dropping invalid index %s: %w", ix.name, err)
			}
		}
		start := time.Now()
		if _, err := conn.Exec(ctx, "CREATE INDEX CONCURRENTLY IF NOT EXISTS "+quoteIdent(ix.name)+" ON "+s.store.recs+" "+ix.definition); err != nil {
			return fmt.Errorf("adoption: building index %s: %w", ix.name, err)
		}
		s.log.Info("adoption: index ready", zap.String("index", ix.name), zap.Duration("elapsed", time.Since(start)))
	}
	if _, err := conn.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+q+".idx_memory_records_namespace"); err != nil {
		return fmt.Errorf("adoption: dropping the platform's namespace index: %w", err)
	}
	// NOT NULL through a validated check: validation scans without blocking
	// writes, and SET NOT NULL then trusts it instead of scanning under an
	// exclusive lock.
	for _, stmt := range []string{
		"ALTER TABLE " + s.store.recs + " DROP CONSTRAINT IF EXISTS memory_records_embedding_set",
		"ALTER TABLE " + s.store.recs + " ADD CONSTRAINT memory_records_embedding_set CHECK (embedding IS NOT NULL) NOT VALID",
		"ALTER TABLE " + s.store.recs + " VALIDATE CONSTRAINT memory_records_embedding_set",
		"ALTER TABLE " + s.store.recs + " ALTER COLUMN embedding SET NOT NULL",
		"ALTER TABLE " + s.store.recs + " DROP CONSTRAINT memory_records_embedding_set",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("adoption: making embedding NOT NULL: %w", err)
		}
	}
	return nil
}
