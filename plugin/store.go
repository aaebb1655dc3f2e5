package plugin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"
	pgxvector "github.com/pgvector/pgvector-go/pgx"
)

// store keeps namespaces and memories in PostgreSQL. All SQL is parameterised;
// the only text spliced in is the schema name, validated and quoted at Open.
type store struct {
	pool  *pgxpool.Pool
	ns    string // quoted table names
	recs  string
	vecs  string // memory_vectors: the HNSW index (vectorindex.go)
	queue string // memory_vector_queue: written, not yet in vecs
	// exactScanMax: see defaultExactScanMax; tests lower it to force the
	// HNSW path on small tables.
	exactScanMax int
	// heapScan: tests set it to read a small scope's vectors from
	// memory_records only, as recall did before migration 0004.
	heapScan bool
	// afterPop, when set (tests), runs inside an indexer batch between
	// taking ids from the queue and reading their memories.
	afterPop func()
}

// sessionSetup runs on every new pooled connection.
//   - hnsw.iterative_scan: when a filter (namespaces, kinds, TTL) rejects rows
//     the HNSW scan found, pgvector >= 0.8 keeps scanning instead of returning
//     fewer than LIMIT rows. relaxed_order is the fast mode; recall re-sorts the
//     candidates by exact distance. Set per session rather than SET LOCAL per
//     query: same effect, no extra round trip.
//   - hnsw.ef_search: the candidate list of the first scan pass (recall@10 is
//     measured in docs/benchmarks.md).
//   - synchronous_commit: a 201 means the write survives a database crash even
//     where the cluster runs with asynchronous commit.
//   - plan_cache_mode: every statement is planned once per connection, not at
//     each execution. Recall's plan does not depend on its parameters (see
//     store.search); left to choose, PostgreSQL re-planned it every time,
//     which cost about as much as running it.
const sessionSetup = `SET hnsw.iterative_scan = relaxed_order;
SET hnsw.ef_search = 100;
SET hnsw.max_scan_tuples = 40000;
SET plan_cache_mode = force_generic_plan;
DO $$ BEGIN IF current_setting('synchronous_commit') = 'off' THEN SET synchronous_commit = on; END IF; END $$`

func newStore(ctx context.Context, cfg *pgxpool.Config, schema string) (*store, error) {
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, withPgvectorOnPath, false); err != nil {
			return fmt.Errorf("finding pgvector's schema: %w", err)
		}
		if err := pgxvector.RegisterTypes(ctx, conn); err != nil {
			return fmt.Errorf("registering pgvector types: %w", err)
		}
		_, err := conn.Exec(ctx, sessionSetup)
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	q := quoteIdent(schema)
	return &store{pool: pool, ns: q + ".memory_namespaces", recs: q + ".memory_records",
		vecs: q + ".memory_vectors", queue: q + ".memory_vector_queue", exactScanMax: defaultExactScanMax}, nil
}

// ping checks that the database answers.
func (s *store) ping(ctx context.Context) error {
	return s.pool.Ping(ctx)
}

// A stored metadata or propagation that is not a JSON object (a row written
// before the plugin checked, e.g. by the platform's plugin, whose columns took
// any JSON) is served as null: the platform's client decodes these fields into
// a map and would fail on the whole answer. The row itself is left as it is.
const (
	namespaceColumns   = "name, kind, expires_at, " + objectOnlyMetadata + ", created_at, updated_at"
	objectOnlyMetadata = "CASE WHEN json_typeof(metadata::json) = 'object' THEN metadata::json END"
)

func scanNamespace(row pgx.Row) (namespace, error) {
	var n namespace
	err := row.Scan(&n.Name, &n.Kind, &n.ExpiresAt, &n.Metadata, &n.CreatedAt, &n.UpdatedAt)
	n.CreatedAt, n.UpdatedAt = n.CreatedAt.UTC(), n.UpdatedAt.UTC()
	if n.ExpiresAt != nil {
		utc := n.ExpiresAt.UTC()
		n.ExpiresAt = &utc
	}
	return n, err
}

// putNamespace writes only when the namespace is new or the PUT changes it.
// The workspace server PUTs a memory's namespace before every commit; an
// upsert that always rewrote the row cost a new tuple, WAL and a synchronous
// commit (one fsync) per commit for nothing. A PUT that changes nothing is a
// read (no transaction id, no WAL, no flush) and keeps updated_at.
func (s *store) putNamespace(ctx context.Context, name string, in namespaceInput) (namespace, error) {
	return scanNamespace(s.pool.QueryRow(ctx, `WITH same AS (
			SELECT `+namespaceColumns+` FROM `+s.ns+`
			WHERE name = $1 AND kind = $2 AND expires_at IS NOT DISTINCT FROM $3
				AND metadata::text IS NOT DISTINCT FROM $4::text),
		put AS (
			INSERT INTO `+s.ns+` (name, kind, expires_at, metadata)
			SELECT $1, $2, $3, $4::text::json WHERE NOT EXISTS (SELECT FROM same)
			ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, expires_at = EXCLUDED.expires_at,
				metadata = EXCLUDED.metadata, updated_at = now()
			RETURNING `+namespaceColumns+`)
		SELECT * FROM same UNION ALL SELECT * FROM put`, name, in.Kind, in.ExpiresAt, jsonParam(in.Metadata)))
}

func (s *store) patchNamespace(ctx context.Context, name string, in namespaceInput) (namespace, error) {
	n, err := scanNamespace(s.pool.QueryRow(ctx, `UPDATE `+s.ns+` SET
			expires_at = CASE WHEN $2 THEN $3 ELSE expires_at END,
			metadata = CASE WHEN $4 THEN $5::json ELSE metadata END,
			updated_at = now()
		WHERE name = $1 RETURNING `+namespaceColumns,
		name, in.SetExpires, in.ExpiresAt, in.SetMetadata, jsonParam(in.Metadata)))
	if errors.Is(err, pgx.ErrNoRows) {
		return n, errNamespaceNotFound
	}
	return n, err
}

func (s *store) deleteNamespace(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM "+s.ns+" WHERE name = $1", name)
	if err == nil && tag.RowsAffected() == 0 {
		return errNamespaceNotFound
	}
	return err
}

// upsertSQL writes a memory, updating it in place when its id exists. The row
// takes the request's namespace: the platform's plugin moves a memory whose id
// lives in another namespace, re-mapped ids and its idempotency test rely on
// it, and access control is the workspace server's job.
func (s *store) upsertSQL() string {
	return `INSERT INTO ` + s.recs + ` AS r
		(id, namespace, content, kind, source, expires_at, propagation, pin, metadata, embedding, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11, now()))
		ON CONFLICT (id) DO UPDATE SET namespace = EXCLUDED.namespace, content = EXCLUDED.content, kind = EXCLUDED.kind,
			source = EXCLUDED.source, expires_at = EXCLUDED.expires_at, propagation = EXCLUDED.propagation,
			pin = EXCLUDED.pin, metadata = EXCLUDED.metadata, embedding = EXCLUDED.embedding,
			created_at = COALESCE($11, r.created_at), updated_at = now()`
}

func upsertArgs(in memoryInput) []any {
	return []any{in.ID, in.Namespace, in.Content, in.Kind, in.Source, in.ExpiresAt,
		jsonParam(in.Propagation), in.Pin, jsonParam(in.Metadata), pgvector.NewVector(in.Embedding), in.CreatedAt}
}

// commit writes one memory, creating its namespace (kind from the prefix) when
// it does not exist yet, and queues it for the vector index; one statement,
// so one round trip.
func (s *store) commit(ctx context.Context, in memoryInput) error {
	args := append(upsertArgs(in), kindFromPrefix(in.Namespace))
	_, err := s.pool.Exec(ctx, `WITH ensure_namespace AS (
			INSERT INTO `+s.ns+` (name, kind) VALUES ($2, $12) ON CONFLICT (name) DO NOTHING),
		written AS (`+s.upsertSQL()+` RETURNING r.id, r.namespace)
		`+s.queueWritten(), args...)
	return err
}

// queueWritten ends a statement whose CTE "written" returns the ids and
// namespaces of the memories it wrote: their indexed vectors, now stale if
// they were updated, are dropped, and the ids queued for the background
// indexer (vectorindex.go), which indexes them off the request path, with
// the namespace written (recall reads a namespace with a queued memory from
// memory_records, scope.go). An id already queued gets the new namespace;
// one an indexer batch holds makes the write wait for the batch, then is
// queued anew (indexVectors).
func (s *store) queueWritten() string {
	return `, stale AS (DELETE FROM ` + s.vecs + ` v USING written w WHERE v.id = w.id)
		INSERT INTO ` + s.queue + ` (id, namespace) SELECT id, namespace FROM written
			ON CONFLICT (id) DO UPDATE SET namespace = EXCLUDED.namespace`
}

// commitBatch writes the items in one statement (so all of them, or none
// when it returns an error): the namespaces are created, then every memory
// upserted by one INSERT over arrays, one round trip and one plan instead of
// one statement per item, and queued for the vector index as in commit.
func (s *store) commitBatch(ctx context.Context, items []memoryInput) error {
	items = lastWriteWins(items)
	kinds := map[string]string{}
	for _, in := range items {
		kinds[in.Namespace] = kindFromPrefix(in.Namespace)
	}
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	nsKinds := make([]string, len(names))
	for i, n := range names {
		nsKinds[i] = kinds[n]
	}
	n := len(items)
	var (
		ids, nss, contents, mkinds, sources = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		expires, created                    = make([]*time.Time, n), make([]*time.Time, n)
		props, metas                        = make([]*string, n), make([]*string, n)
		pins                                = make([]bool, n)
		vecs                                = make([]pgvector.Vector, n)
	)
	str := func(raw []byte) *string {
		if raw == nil {
			return nil
		}
		v := string(raw)
		return &v
	}
	for i, in := range items {
		ids[i], nss[i], contents[i], mkinds[i], sources[i] = in.ID, in.Namespace, in.Content, in.Kind, in.Source
		expires[i], created[i], pins[i] = in.ExpiresAt, in.CreatedAt, in.Pin
		props[i], metas[i] = str(in.Propagation), str(in.Metadata)
		vecs[i] = pgvector.NewVector(in.Embedding)
	}
	// Rows are inserted in id order and namespaces in name order:
	// concurrent batches take their row locks in one order and cannot
	// deadlock. created_at is kept on update unless the item sends one,
	// as in upsertSQL.
	_, err := s.pool.Exec(ctx, `WITH ensure_namespaces AS (
			INSERT INTO `+s.ns+` (name, kind) SELECT * FROM unnest($1::text[], $2::text[])
			ORDER BY 1 ON CONFLICT (name) DO NOTHING),
		item AS (
			SELECT * FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[],
				$9::json[], $10::bool[], $11::json[], $12::vector[], $13::timestamptz[])
				AS i (id, namespace, content, kind, source, expires_at, propagation, pin, metadata, embedding, created_at)),
		written AS (
		INSERT INTO `+s.recs+` AS r
			(id, namespace, content, kind, source, expires_at, propagation, pin, metadata, embedding, created_at)
		SELECT id, namespace, content, kind, source, expires_at, propagation, pin, metadata, embedding, COALESCE(created_at, now())
		FROM item ORDER BY id
		ON CONFLICT (id) DO UPDATE SET namespace = EXCLUDED.namespace, content = EXCLUDED.content, kind = EXCLUDED.kind,
			source = EXCLUDED.source, expires_at = EXCLUDED.expires_at, propagation = EXCLUDED.propagation,
			pin = EXCLUDED.pin, metadata = EXCLUDED.metadata, embedding = EXCLUDED.embedding,
			created_at = COALESCE((SELECT created_at FROM item WHERE item.id = EXCLUDED.id), r.created_at), updated_at = now()
		RETURNING r.id, r.namespace)
		`+s.queueWritten(),
		names, nsKinds, ids, nss, contents, mkinds, sources, expires, props, pins, metas, vecs, created)
	return err
}

// lastWriteWins folds items with the same id into one, as writing them in
// request order would leave the row: the last item's fields, and the last
// created_at any of them sent (one INSERT cannot touch a row twice).
func lastWriteWins(items []memoryInput) []memoryInput {
	at := make(map[string]int, len(items))
	out := make([]memoryInput, 0, len(items))
	for _, in := range items {
		j, seen := at[in.ID]
		if !seen {
			at[in.ID] = len(out)
			out = append(out, in)
			continue
		}
		if in.CreatedAt == nil {
			in.CreatedAt = out[j].CreatedAt
		}
		out[j] = in
	}
	return out
}

func (s *store) deleteMemory(ctx context.Context, id, ns string) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM "+s.recs+" WHERE id = $1 AND namespace = $2", id, ns)
	if err == nil && tag.RowsAffected() == 0 {
		return errMemoryNotFound
	}
	return err
}

// live is the condition a memory must meet to be returned: neither it nor its
// namespace has expired.
func (s *store) live(alias string) string {
	return `(` + alias + `.expires_at IS NULL OR ` + alias + `.expires_at > now()) AND NOT EXISTS (
		SELECT 1 FROM ` + s.ns + ` n WHERE n.name = ` + alias + `.namespace AND n.expires_at <= now())`
}

// memoryColumns are what scanMemory reads; see namespaceColumns for the CASEs.
const memoryColumns = "r.id, r.namespace, r.content, r.kind, r.source, r.expires_at, " +
	"CASE WHEN json_typeof(r.propagation::json) = 'object' THEN r.propagation::json END, r.pin, " +
	"CASE WHEN json_typeof(r.metadata::json) = 'object' THEN r.metadata::json END, r.created_at"

// scanMemory reads memoryColumns and then, withScore, a score.
func scanMemory(row pgx.Row, withScore bool) (memory, error) {
	var m memory
	dest := []any{&m.ID, &m.Namespace, &m.Content, &m.Kind, &m.Source, &m.ExpiresAt, &m.Propagation, &m.Pin, &m.Metadata, &m.CreatedAt}
	var score float64
	if withScore {
		dest = append(dest, &score)
		m.Score = &score
	}
	if err := row.Scan(dest...); err != nil {
		return m, err
	}
	m.CreatedAt = m.CreatedAt.UTC()
	if m.ExpiresAt != nil {
		utc := m.ExpiresAt.UTC()
		m.ExpiresAt = &utc
	}
	return m, nil
}

// lookup returns the live memories with the given ids, in the order asked.
func (s *store) lookup(ctx context.Context, ids []string) ([]memory, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+memoryColumns+" FROM "+s.recs+" r WHERE r.id = ANY($1) AND "+s.live("r"), ids)
	if err != nil {
		return nil, err
	}
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (memory, error) { return scanMemory(row, false) })
	if err != nil {
		return nil, err
	}
	byID := make(map[string]memory, len(found))
	for _, m := range found {
		byID[m.ID] = m
	}
	out := make([]memory, 0, len(found))
	for _, id := range ids {
		if m, ok := byID[id]; ok {
			out = append(out, m)
			delete(byID, id)
		}
	}
	return out, nil
}

// jsonParam passes raw JSON for a json column; nil is SQL NULL.
func jsonParam(raw []byte) any {
	if raw == nil {
		return nil
	}
	return string(raw)
}

// dbTimeout bounds the database work of one request, below the server's
// write timeout.
const dbTimeout = 10 * time.Second

// batchDBTimeout bounds a batch of up to 500 memories, still below the
// server's write timeout (30 s): on a loaded host 500 embeddings and HNSW
// inserts took past 10 s and the backfill's batches were answered 503 until
// its retries ran out.
const batchDBTimeout = 25 * time.Second
