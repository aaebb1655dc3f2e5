package plugin

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// The vector index is built off the request path (migration 0003): a write
// queues its memories' ids in memory_vector_queue, and this background
// indexer moves them, a batch at a time, into memory_vectors, whose HNSW
// index serves recall over large scopes (and whose namespace btree serves
// small ones, scope.go). Each batch takes its ids out of the queue and
// inserts their vectors in one transaction (indexVectors), so a crash or a
// stop loses nothing: the ids are still queued, and the next run indexes
// them.
// Two plugins on one database share the queue (SKIP LOCKED). Recall reads
// the queue too, exactly, so nothing written is ever missed.
//
// The indexer gives way to writes: while writes keep arriving it indexes one
// batch a second, and spends at most a fifth of its time indexing (a bulk
// load gets the CPU, the backlog waits); it drains the queue at full speed
// once they pause. A batch holds up to 500 memories, fewer when a batch takes
// past 2 s (HNSW inserts into a large graph of near-duplicate vectors were
// measured at tens of milliseconds each).

// VectorIndexStatus is reported in /v1/health as "vector_index".
type VectorIndexStatus struct {
	// Pending is how many memories wait to enter the HNSW index (counted
	// every few seconds); Indexed how many this process has indexed.
	Pending int64 `json:"pending"`
	Indexed int64 `json:"indexed"`
	// Rebuilding: a large backlog is being indexed by rebuilding the index.
	Rebuilding bool `json:"rebuilding,omitempty"`
}

const (
	// defaultVectorBatch is the most memories one batch indexes; fewer
	// (down to minVectorBatch) when a batch takes past twice batchTarget.
	defaultVectorBatch = 500
	minVectorBatch     = 20
	batchTarget        = time.Second
	// giveWay: writes arrived this recently, so index at the slow pace.
	giveWay = 250 * time.Millisecond
	// slowPace is the pause between batches while writes go on.
	slowPace = time.Second
	// countEvery bounds how often the queue is counted for Pending.
	countEvery = 5 * time.Second
	// logBacklog: a backlog of at least this many memories is logged when
	// it has been indexed.
	logBacklog = 5000
	// defaultBulkMin: see vectorIndexer.bulkMin.
	defaultBulkMin = 20000
	// bulkQuiet: a rebuild starts only when no write came for this long (a
	// bulk load's batches come closer together than that).
	bulkQuiet = 2 * time.Second
)

// vectorIndexer is the background job's state.
type vectorIndexer struct {
	batch int
	// bulkMin: a backlog at least this large (and at least the size of
	// the index) is indexed by rebuilding the index (rebuild).
	bulkMin    int
	rebuilding atomic.Bool
	pending    atomic.Int64
	indexed    atomic.Int64
	lastWrite  atomic.Int64 // UnixNano of the last write
	wake       chan struct{}
	stop       context.CancelFunc
	done       chan struct{}
	// afterBatch, when set (tests), runs after each indexed batch.
	afterBatch func(n int)
	// caughtUp holds the channels of those waiting for the queue to be
	// found empty (waitCaughtUp); the indexer closes them when it finds it so.
	mu       sync.Mutex
	caughtUp []chan struct{}
}

// waitCaughtUp returns a channel closed once the indexer, after this call,
// finds the queue empty with no rebuild running: what a caller that has
// written memories waits for before relying on the HNSW index alone.
func (v *vectorIndexer) waitCaughtUp() <-chan struct{} {
	c := make(chan struct{})
	v.mu.Lock()
	v.caughtUp = append(v.caughtUp, c)
	v.mu.Unlock()
	select { // look now rather than at the next write or count
	case v.wake <- struct{}{}:
	default:
	}
	return c
}

// waiting is how many waitCaughtUp calls are waiting: a batch that starts
// now may release that many when it finds the queue empty, and no later
// ones, which may have written after it looked.
func (v *vectorIndexer) waiting() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.caughtUp)
}

// reportCaughtUp releases the first n waitCaughtUp calls (see waiting).
func (v *vectorIndexer) reportCaughtUp(n int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range v.caughtUp[:n] {
		close(c)
	}
	v.caughtUp = slices.Delete(v.caughtUp, 0, n)
}

// wrote tells the indexer that memories were queued.
func (v *vectorIndexer) wrote() {
	v.lastWrite.Store(time.Now().UnixNano())
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

func (v *vectorIndexer) status() *VectorIndexStatus {
	return &VectorIndexStatus{Pending: max(0, v.pending.Load()), Indexed: v.indexed.Load(), Rebuilding: v.rebuilding.Load()}
}

// startVectorIndexer runs the indexer until stopVectorIndexer.
func (s *Service) startVectorIndexer() {
	ctx, cancel := context.WithCancel(context.Background())
	s.vindex.stop, s.vindex.done = cancel, make(chan struct{})
	go func() {
		defer close(s.vindex.done)
		s.runVectorIndexer(ctx)
	}()
}

func (s *Service) stopVectorIndexer() {
	if s.vindex.stop != nil {
		s.vindex.stop()
		<-s.vindex.done
	}
}

func (s *Service) runVectorIndexer(ctx context.Context) {
	v := &s.vindex
	after := zeroUUID
	var lastBatch, lastCount time.Time
	var took time.Duration // the last batch's
	size := v.batch
	pause := time.Second
	// An index a crash left invalid (or missing) is rebuilt first.
	if err := s.rebuildVectorIndex(ctx, false); err != nil && ctx.Err() == nil {
		s.log.Warn("vector index: checking the index failed", zap.Error(err))
	}
	// The end of a large backlog (a bulk load's) is logged, with how many
	// memories it held and how long it took; a commit's few are not.
	var backlog int64
	var backlogStart time.Time
	// memory_vectors is VACUUMed once caught up (see vacuumVectors).
	var vacuumedAt int64
	var lastVacuum time.Time
	for ctx.Err() == nil {
		if time.Since(lastCount) >= countEvery {
			var n int64
			if err := s.store.pool.QueryRow(ctx, "SELECT count(*) FROM "+s.store.queue).Scan(&n); err == nil {
				v.pending.Store(n)
			}
			lastCount = time.Now()
			// A large backlog, once writes pause: rebuild rather than insert.
			if n >= int64(v.bulkMin) && time.Since(time.Unix(0, v.lastWrite.Load())) >= bulkQuiet {
				var indexed int64
				if err := s.store.pool.QueryRow(ctx, "SELECT count(*) FROM "+s.store.vecs).Scan(&indexed); err == nil && n >= indexed {
					if err := s.rebuildVectorIndex(ctx, true); err != nil && ctx.Err() == nil {
						s.log.Warn("vector index: rebuilding failed; inserting instead", zap.Error(err))
					}
					lastCount = time.Time{}
					continue
				}
			}
		}
		// While writes arrive, a batch at most every slowPace, and at most
		// a fifth of the time: an HNSW insert into a large graph can take
		// tens of milliseconds, so a batch can take seconds.
		if rest := max(slowPace, 5*took); time.Since(time.Unix(0, v.lastWrite.Load())) < giveWay && time.Since(lastBatch) < rest {
			sleep(ctx, min(giveWay, rest-time.Since(lastBatch)))
			continue
		}
		lastBatch = time.Now()
		waiting := v.waiting()
		popped, last, err := s.store.indexVectors(ctx, after, size)
		took = time.Since(lastBatch)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("vector index: a batch failed; retrying", zap.Duration("in", pause), zap.Error(err))
			sleep(ctx, pause)
			pause = min(2*pause, time.Minute)
			continue
		}
		pause = time.Second
		if popped > 0 && backlog == 0 {
			backlogStart = time.Now()
		}
		backlog += int64(popped)
		v.indexed.Add(int64(popped))
		v.pending.Add(-int64(popped))
		if v.afterBatch != nil {
			v.afterBatch(popped)
		}
		full := popped == size
		// A batch is one transaction: keep it near batchTarget long, so
		// that a stop or a crash loses little work and locks are short.
		switch {
		case took > 2*batchTarget && size > minVectorBatch:
			size = max(minVectorBatch, size/2)
		case took < batchTarget/4 && size < v.batch:
			size = min(v.batch, 2*size)
		}
		switch {
		case full:
			after = last
		case popped > 0 || after != zeroUUID:
			after = zeroUUID // ids below the cursor may have been queued since: go round
		default:
			// The queue is empty (or held by another plugin): VACUUM
			// what was indexed (at most every vacuumEvery while writes
			// go on), then wait for a write, or look again in a while.
			writing := time.Since(time.Unix(0, v.lastWrite.Load())) < giveWay
			if n := v.indexed.Load(); n-vacuumedAt >= vacuumMin && (!writing || time.Since(lastVacuum) >= vacuumEvery) {
				s.vacuumVectors(ctx)
				vacuumedAt, lastVacuum = n, time.Now()
			}
			v.pending.Store(0)
			if backlog >= logBacklog {
				s.log.Info("vector index: caught up", zap.Int64("indexed", backlog),
					zap.Duration("elapsed", time.Since(backlogStart)))
			}
			backlog = 0
			v.reportCaughtUp(waiting)
			select {
			case <-ctx.Done():
			case <-v.wake:
			case <-time.After(countEvery):
			}
		}
	}
}

const zeroUUID = "00000000-0000-0000-0000-000000000000"

const (
	// vacuumMin: memory_vectors is VACUUMed once the queue is empty and at
	// least this many memories were indexed since the last VACUUM; while
	// writes go on, at most once per vacuumEvery.
	vacuumMin   = 500
	vacuumEvery = 10 * time.Second
)

// vacuumVectors VACUUMs memory_vectors and the queue. Recall reads a small
// scope's vectors by index-only scans of memory_vectors' namespace btree
// (scope.go), which read the heap for every row on a page the visibility
// map does not yet mark all-visible, and freshly indexed rows are on such
// pages until a VACUUM (autovacuum comes after 20 % of the table is new, or
// later). Recall also probes the queue's namespace index, whose entries of
// the ids a backlog's batches deleted stay until a VACUUM, each costing a
// heap visit: a 100,000-memory backlog drained took recall's p99 from 4 to
// 40 ms. The VACUUM reads only the pages changed since the last one.
func (s *Service) vacuumVectors(ctx context.Context) {
	if _, err := s.store.pool.Exec(ctx, "VACUUM (SKIP_LOCKED) "+s.store.vecs+", "+s.store.queue); err != nil && ctx.Err() == nil {
		s.log.Warn("vector index: VACUUM failed", zap.Error(err))
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// vectorBulkLock is the session advisory lock of a rebuild: two plugins on
// one database do it once.
const vectorBulkLock int64 = 0x6d656d76656362 // "memvecb"

// rebuildVectorIndex, with bulk, indexes a large backlog by dropping the HNSW
// index, moving every queued memory into memory_vectors (cheap without the
// index), and building the index anew with CREATE INDEX CONCURRENTLY: pgvector
// builds a graph in memory several times faster than it inserts into one on
// disk, and far faster where inserts are slow (near-duplicate vectors). Without
// bulk it only makes sure the index exists and is valid: a crash during a
// rebuild leaves it missing or invalid, and the next run builds it. Recall
// stays exact meanwhile (without the index, a large scope's vector list is a
// scan). Writes go on: they only queue.
func (s *Service) rebuildVectorIndex(ctx context.Context, bulk bool) error {
	conn, err := s.store.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", vectorBulkLock).Scan(&locked); err != nil || !locked {
		return err // another plugin rebuilds
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", vectorBulkLock)
	const index = "memory_vectors_embedding_idx"
	q := quoteIdent(s.cfg.Schema)
	var valid *bool
	err = conn.QueryRow(ctx, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, s.cfg.Schema, index).Scan(&valid)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if valid != nil && *valid && !bulk {
		return nil
	}
	v := &s.vindex
	v.rebuilding.Store(true)
	defer v.rebuilding.Store(false)
	start := time.Now()
	s.log.Info("vector index: rebuilding", zap.Int64("pending", v.pending.Load()), zap.Bool("index_valid", valid != nil && *valid))
	if valid != nil {
		if _, err := conn.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+q+"."+index); err != nil {
			return err
		}
	}
	moved := int64(0)
	for after := zeroUUID; ; {
		popped, last, err := s.store.indexVectors(ctx, after, bulkBatch)
		if err != nil {
			return err
		}
		moved += int64(popped)
		v.indexed.Add(int64(popped))
		v.pending.Add(-int64(popped))
		if popped < bulkBatch {
			break
		}
		after = last
	}
	if _, err := conn.Exec(ctx, "SET maintenance_work_mem = '512MB'"); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), "RESET maintenance_work_mem")
	if _, err := conn.Exec(ctx, "CREATE INDEX CONCURRENTLY IF NOT EXISTS "+index+" ON "+s.store.vecs+
		" USING hnsw (embedding halfvec_cosine_ops)"); err != nil {
		return err
	}
	s.log.Info("vector index: rebuilt", zap.Int64("moved", moved), zap.Duration("elapsed", time.Since(start)))
	return nil
}

// bulkBatch memories are moved per statement while the index is dropped.
const bulkBatch = 10000

// indexVectors moves up to n queued memories with ids above after into the
// HNSW index, in id order (a cursor, so that a long queue is not rescanned
// from its dead head each time), and returns how many ids it took from the
// queue and the last of them. A queued id whose memory is gone is dropped.
//
// Two statements in one transaction, not one: the memories are read after
// their ids are taken from the queue, with a snapshot of their own. A write
// to a memory queues its id again (store.queueWritten); while this batch
// holds that id's queue row deleted, the write's insert waits for the batch
// to end, then queues the id anew, so the next batch indexes what it wrote.
// Read in the statement that takes the ids, a memory rewritten after that
// statement's snapshot but before it reached the queue row was indexed
// with its old vector and left unqueued.
func (s *store) indexVectors(ctx context.Context, after string, n int) (popped int, last string, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var ids []string
		var lastID *string
		if err := tx.QueryRow(ctx, `WITH popped AS (
				DELETE FROM `+s.queue+` WHERE id IN (
					SELECT id FROM `+s.queue+` WHERE id > $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
				RETURNING id)
			SELECT coalesce(array_agg(id::text), '{}'), max(id::text) FROM popped`, after, n).Scan(&ids, &lastID); err != nil {
			return err
		}
		popped = len(ids)
		if lastID != nil {
			last = *lastID
		}
		if s.afterPop != nil {
			s.afterPop()
		}
		if popped == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+s.vecs+` (id, embedding, namespace, kind, expires_at)
			SELECT r.id, l2_normalize(r.embedding)::halfvec, r.namespace, r.kind, r.expires_at
			FROM `+s.recs+` r WHERE r.id = ANY ($1::uuid[]) AND r.embedding IS NOT NULL
			ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding, namespace = EXCLUDED.namespace,
				kind = EXCLUDED.kind, expires_at = EXCLUDED.expires_at`, ids)
		return err
	})
	if err != nil {
		return 0, "", err
	}
	return popped, last, nil
}
