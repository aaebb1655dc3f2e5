// Package plugin is the memory plugin: the HTTP service of the memory plugin
// contract v1 (docs/http-api-v1.md) on PostgreSQL with pgvector, plus the
// extensions the backfill needs (batch, lookup, created_at, metadata).
//
// A Service is opened against a database, which it migrates first, and serves
// the contract through Handler:
//
//	svc, err := plugin.Open(ctx, plugin.Config{DatabaseURL: url})
//	...
//	defer svc.Close()
//	srv := httptest.NewServer(svc.Handler())
package plugin

import (
	"context"
	"fmt"
	"github.com/agentplatform/tenant-init/envvar"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// defaultPoolMaxConns bounds the connection pool when the database URL does
// not (pgx's own default is 4 on up to 4 cores). A commit spends most of its
// time waiting for its WAL flush; with more connections, concurrent commits
// share one flush (PostgreSQL's group commit) instead of queueing for a
// connection.
const defaultPoolMaxConns = 8

// A Service is an open memory plugin: a migrated database, a connection pool
// and an embedder.
type Service struct {
	cfg     Config
	store   *store
	embed   embedder
	log     *zap.Logger
	metrics *metrics
	adopt   adoption
	vindex  vectorIndexer
	// similarityTo returns the built-in embedder's exact measure of a
	// text's relatedness to query (see hashEmbedder.similarity); nil with a
	// provider, whose cosine is the measure.
	similarityTo func(query string) func(content string) float64
}

// Open validates cfg, migrates the database (creating pgvector when it is
// missing) and opens the connection pool. Errors name the database without its
// password; a missing or unusable pgvector is a *PgvectorError, a dimension
// that differs from the stored one a *DimensionError, a bad setting an
// *envvar.Error.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		// pgx's message may quote the URL, password and all: not repeated.
		// A bad environment value, so exit 78 as documented, not 69.
		return nil, &envvar.Error{Name: EnvDatabaseURL, Value: "(redacted)", Reason: "does not parse as a PostgreSQL URL or connection string",
			Accepted: "a PostgreSQL URL such as postgres://user:password@host:5432/db, or a key=value connection string"}
	}
	if !strings.Contains(cfg.DatabaseURL, "pool_max_conns") {
		poolCfg.MaxConns = defaultPoolMaxConns
	}
	if poolCfg.ConnConfig.ConnectTimeout == 0 {
		poolCfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	database := fmt.Sprintf("database %q on %s:%d", poolCfg.ConnConfig.Database, poolCfg.ConnConfig.Host, poolCfg.ConnConfig.Port)

	// Migrate on a plain connection first: the pool registers pgvector's types
	// on connect, which fails until the extension exists.
	conn, err := pgx.ConnectConfig(ctx, poolCfg.ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", database, err)
	}
	err = migrate(ctx, conn, cfg.Schema, cfg.EmbeddingDim, database, cfg.Logger)
	conn.Close(context.Background())
	if err != nil {
		return nil, err
	}
	st, err := newStore(ctx, poolCfg, cfg.Schema)
	if err != nil {
		return nil, fmt.Errorf("opening a connection pool to %s: %w", database, err)
	}
	s := &Service{cfg: cfg, store: st, log: cfg.Logger, metrics: newMetrics(st.pool)}
	builtin := hashEmbedder{dim: cfg.EmbeddingDim}
	s.embed, s.similarityTo = timedEmbedder{builtin, "builtin", s.metrics.embedding}, builtin.similarityTo
	s.adopt.batch = defaultAdoptBatch
	s.vindex.batch, s.vindex.bulkMin, s.vindex.wake = defaultVectorBatch, defaultBulkMin, make(chan struct{}, 1)
	s.metrics.registerVectorIndex(&s.vindex)
	if cfg.EmbeddingURL != "" {
		s.embed, s.similarityTo = timedEmbedder{newProviderEmbedder(cfg), "provider", s.metrics.embedding}, nil
	}
	s.startVectorIndexer()
	return s, nil
}

// Close stops the background vector indexer (what it has not indexed stays
// queued for the next run) and closes the connection pool, waiting for
// connections in use.
func (s *Service) Close() {
	s.stopVectorIndexer()
	s.store.pool.Close()
}

// HTTPServer returns a server for Handler with every timeout set, so that a
// slow or stuck client cannot hold connections forever.
func (s *Service) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second, // a full batch body included
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
}
