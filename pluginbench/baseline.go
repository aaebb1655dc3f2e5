package pluginbench

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"
	pgxvector "github.com/pgvector/pgvector-go/pgx"
)

// The baseline reproduces the platform's own plugin (memory-plugin-postgres)
// as docs/platform-plugin-tables.md and docs/http-api-v1.md describe it: its
// schema, re-run on every boot with IF NOT EXISTS; one INSERT per commit into
// a namespace the client upserted first (a missing namespace is the foreign-key
// 500); full-text search with plainto_tsquery and ts_rank; substring for a
// 1-character query; pinned first, newest first without a query; nearest by
// cosine when an embedding is sent (its L2 ivfflat index never serves that).
// It is small on purpose: what it costs per request is what the platform's
// plugin costs, no more.
// platformSchema is the platform plugin's DDL: the one copy of it, shared
// with the plugin's adoption tests and the e2e suite (PlatformSchema).
//
//go:embed platform-plugin.sql
var platformSchema string

// PlatformSchema is the DDL the platform's plugin runs at every boot, with
// pgvector installed in vectorSchema: memory_plugin for fresh tenants,
// public for those that had it before. It sets search_path to
// memory_plugin, public as the old entrypoint did.
func PlatformSchema(vectorSchema string) string {
	return strings.ReplaceAll(platformSchema, "{{vector_schema}}", vectorSchema)
}

// Baseline is the reproduction of the platform's plugin.
type Baseline struct{ pool *pgxpool.Pool }

// OpenBaseline runs the baseline's schema on databaseURL (as the platform's
// plugin does on every boot) and opens its pool, with pgx's default size as
// the platform's plugin has.
func OpenBaseline(ctx context.Context, databaseURL string) (*Baseline, error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	_, err = conn.Exec(ctx, PlatformSchema("memory_plugin"))
	conn.Close(ctx)
	if err != nil {
		return nil, fmt.Errorf("baseline schema: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = "memory_plugin,public"
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error { return pgxvector.RegisterTypes(ctx, c) }
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Baseline{pool: pool}, nil
}

// Close closes the pool.
func (b *Baseline) Close() { b.pool.Close() }

// Serve serves the contract on ln until ctx ends.
func (b *Baseline) Serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/health", b.health)
	mux.HandleFunc("PUT /v1/namespaces/{name}", b.putNamespace)
	mux.HandleFunc("DELETE /v1/namespaces/{name}", b.deleteNamespace)
	mux.HandleFunc("POST /v1/namespaces/{name}/memories", b.commit)
	mux.HandleFunc("POST /v1/search", b.search)
	mux.HandleFunc("DELETE /v1/memories/{id}", b.deleteMemory)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (b *Baseline) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status, code := "ok", http.StatusOK
	if b.pool.Ping(ctx) != nil {
		status, code = "degraded", http.StatusServiceUnavailable
	}
	reply(w, code, map[string]any{"status": status, "version": "1.0.0",
		"capabilities": []string{"embedding", "fts", "ttl", "pin", "propagation"}})
}

type nsBody struct {
	Kind      string          `json:"kind"`
	ExpiresAt *time.Time      `json:"expires_at"`
	Metadata  json.RawMessage `json:"metadata"`
}

func (b *Baseline) putNamespace(w http.ResponseWriter, r *http.Request) {
	var in nsBody
	if !decode(w, r, &in) {
		return
	}
	var out struct {
		Name      string          `json:"name"`
		Kind      string          `json:"kind"`
		ExpiresAt *time.Time      `json:"expires_at,omitempty"`
		Metadata  json.RawMessage `json:"metadata,omitempty"`
		CreatedAt time.Time       `json:"created_at"`
	}
	err := b.pool.QueryRow(r.Context(), `INSERT INTO memory_namespaces (name, kind, expires_at, metadata)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, expires_at = EXCLUDED.expires_at, metadata = EXCLUDED.metadata
		RETURNING name, kind, expires_at, metadata, created_at`,
		r.PathValue("name"), in.Kind, in.ExpiresAt, nullJSON(in.Metadata)).
		Scan(&out.Name, &out.Kind, &out.ExpiresAt, &out.Metadata, &out.CreatedAt)
	if err != nil {
		fail(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	reply(w, http.StatusOK, out)
}

func (b *Baseline) deleteNamespace(w http.ResponseWriter, r *http.Request) {
	tag, err := b.pool.Exec(r.Context(), "DELETE FROM memory_namespaces WHERE name = $1", r.PathValue("name"))
	switch {
	case err != nil:
		fail(w, http.StatusInternalServerError, "internal", err.Error())
	case tag.RowsAffected() == 0:
		fail(w, http.StatusNotFound, "not_found", "namespace not found")
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

type memoryBody struct {
	ID          *string         `json:"id"`
	Content     string          `json:"content"`
	Kind        string          `json:"kind"`
	Source      string          `json:"source"`
	ExpiresAt   *time.Time      `json:"expires_at"`
	Propagation json.RawMessage `json:"propagation"`
	Pin         bool            `json:"pin"`
	Embedding   []float32       `json:"embedding"`
}

// commit is one INSERT: the namespace must exist (the workspace server PUTs it
// before every commit), or the foreign key answers 500 as the platform's
// plugin does.
func (b *Baseline) commit(w http.ResponseWriter, r *http.Request) {
	var in memoryBody
	if !decode(w, r, &in) {
		return
	}
	if strings.TrimSpace(in.Content) == "" || in.Kind == "" || in.Source == "" {
		fail(w, http.StatusBadRequest, "bad_request", "content, kind and source are required")
		return
	}
	var emb any
	if in.Embedding != nil {
		emb = pgvector.NewVector(in.Embedding)
	}
	var id string
	err := b.pool.QueryRow(r.Context(), `INSERT INTO memory_records
		(id, namespace, content, kind, source, expires_at, propagation, pin, embedding)
		VALUES (COALESCE($1::uuid, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO UPDATE SET namespace = EXCLUDED.namespace, content = EXCLUDED.content,
			kind = EXCLUDED.kind, source = EXCLUDED.source, expires_at = EXCLUDED.expires_at,
			propagation = EXCLUDED.propagation, pin = EXCLUDED.pin, embedding = EXCLUDED.embedding
		RETURNING id`,
		in.ID, r.PathValue("name"), in.Content, in.Kind, in.Source, in.ExpiresAt, nullJSON(in.Propagation), in.Pin, emb).Scan(&id)
	if err != nil {
		fail(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	reply(w, http.StatusCreated, map[string]string{"id": id, "namespace": r.PathValue("name")})
}

type searchBody struct {
	Namespaces []string  `json:"namespaces"`
	Query      string    `json:"query"`
	Kinds      []string  `json:"kinds"`
	Limit      int       `json:"limit"`
	Embedding  []float32 `json:"embedding"`
}

type baselineMemory struct {
	ID          string          `json:"id"`
	Namespace   string          `json:"namespace"`
	Content     string          `json:"content"`
	Kind        string          `json:"kind"`
	Source      string          `json:"source"`
	ExpiresAt   *time.Time      `json:"expires_at,omitempty"`
	Propagation json.RawMessage `json:"propagation,omitempty"`
	Pin         bool            `json:"pin"`
	CreatedAt   time.Time       `json:"created_at"`
	Score       *float64        `json:"score"`
}

func (b *Baseline) search(w http.ResponseWriter, r *http.Request) {
	var in searchBody
	if !decode(w, r, &in) {
		return
	}
	if len(in.Namespaces) == 0 {
		fail(w, http.StatusBadRequest, "bad_request", "namespaces is empty")
		return
	}
	if in.Limit <= 0 || in.Limit > 100 {
		in.Limit = 20
	}
	const cols = "id::text, namespace, content, kind, source, expires_at, propagation, pin, created_at"
	where := "namespace = ANY($1) AND (expires_at IS NULL OR expires_at > now())"
	args := []any{in.Namespaces, in.Limit}
	if len(in.Kinds) > 0 {
		where += " AND kind = ANY($3)"
		args = append(args, in.Kinds)
	}
	param := fmt.Sprintf("$%d", len(args)+1)
	var sql string
	switch q := strings.TrimSpace(in.Query); {
	case in.Embedding != nil:
		args = append(args, pgvector.NewVector(in.Embedding))
		sql = "SELECT " + cols + ", 1 - (embedding <=> " + param + ") FROM memory_records WHERE " + where +
			" AND embedding IS NOT NULL ORDER BY embedding <=> " + param + " LIMIT $2"
	case len([]rune(q)) >= 2:
		args = append(args, q)
		sql = "SELECT " + cols + ", ts_rank(content_tsv, plainto_tsquery('english', " + param + ")) AS rank FROM memory_records WHERE " +
			where + " AND content_tsv @@ plainto_tsquery('english', " + param + ") ORDER BY rank DESC LIMIT $2"
	case q != "":
		args = append(args, q)
		sql = "SELECT " + cols + ", NULL::float8 FROM memory_records WHERE " + where +
			" AND strpos(content, " + param + ") > 0 ORDER BY pin DESC, created_at DESC LIMIT $2"
	default:
		sql = "SELECT " + cols + ", NULL::float8 FROM memory_records WHERE " + where + " ORDER BY pin DESC, created_at DESC LIMIT $2"
	}
	rows, err := b.pool.Query(r.Context(), sql, args...)
	if err != nil {
		fail(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	// nil when nothing matched: the platform's plugin answers
	// {"memories": null}.
	var out []baselineMemory
	for rows.Next() {
		var m baselineMemory
		var score *float64
		if err := rows.Scan(&m.ID, &m.Namespace, &m.Content, &m.Kind, &m.Source, &m.ExpiresAt, &m.Propagation, &m.Pin, &m.CreatedAt, &score); err != nil {
			rows.Close()
			fail(w, http.StatusInternalServerError, "internal", err.Error())
			return
		}
		m.Score = score
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		fail(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	reply(w, http.StatusOK, map[string]any{"memories": out})
}

func (b *Baseline) deleteMemory(w http.ResponseWriter, r *http.Request) {
	var in struct {
		RequestedBy string `json:"requested_by_namespace"`
	}
	if !decode(w, r, &in) {
		return
	}
	tag, err := b.pool.Exec(r.Context(), "DELETE FROM memory_records WHERE id = $1 AND namespace = $2", r.PathValue("id"), in.RequestedBy)
	switch {
	case err != nil:
		fail(w, http.StatusInternalServerError, "internal", err.Error())
	case tag.RowsAffected() == 0:
		fail(w, http.StatusNotFound, "not_found", "memory not found in namespace")
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// decode reads a JSON body, ignoring unknown fields as the platform's plugin
// does.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
		fail(w, http.StatusBadRequest, "bad_request", "invalid JSON: "+err.Error())
		return false
	}
	return true
}

func nullJSON(raw json.RawMessage) any {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return string(raw)
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, code, message string) {
	reply(w, status, map[string]string{"code": code, "message": message})
}
