// Package pgtest gives tests a real PostgreSQL with pgvector.
//
// Every database test in the module goes through it, so there is one way to get
// a database and one error when there is none. The server is TEST_DATABASE_URL
// when that is set; otherwise a throwaway cluster that pgtest creates with initdb
// and pg_ctl on a free loopback port and removes when the test binary ends. Each
// test gets a database of its own, dropped afterwards.
//
// pgtest never skips but under `go test -short` (make unit, which asks for the
// tests that need no database): a machine without PostgreSQL or pgvector fails
// the test with a message that says what to install (`make deps`), so a green
// CI run (make test, never -short) always means the database tests ran.
//
// A package that uses it calls Run from TestMain so the cluster is stopped:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a PostgreSQL server that tests may create databases in.
type Server struct {
	// URL connects to the server's maintenance database as a superuser.
	URL string
}

var (
	shared struct {
		once   sync.Once
		server *Server
		err    error
	}
	noVector struct {
		once   sync.Once
		server *Server
		err    error
	}
	clustersMu sync.Mutex
	clusters   []*Cluster // every cluster this binary started, removed by Run
)

// Run runs the tests and then removes every cluster pgtest started.
func Run(m *testing.M) int {
	code := m.Run()
	clustersMu.Lock()
	defer clustersMu.Unlock()
	for _, c := range clusters {
		if err := c.Remove(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: removing cluster %s: %v\n", c.Dir, err)
		}
	}
	return code
}

// SkipShort skips t under `go test -short` (make unit): t needs PostgreSQL.
// Shared, New and NewWithoutPgvector call it; a test that calls StartCluster
// itself calls it first.
func SkipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("pgtest: needs PostgreSQL; skipped under -short (make unit)")
	}
}

// Shared returns the server shared by the tests of this binary: TEST_DATABASE_URL,
// or a cluster with pgvector started on first use. It fails t when there is none.
func Shared(t testing.TB) *Server {
	t.Helper()
	SkipShort(t)
	shared.once.Do(func() {
		if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
			shared.server = &Server{URL: u}
		} else {
			var c *Cluster
			c, shared.err = StartCluster(Options{})
			if shared.err == nil {
				shared.server = c.Server()
			}
		}
		if shared.err == nil {
			shared.err = shared.server.requirePgvector()
		}
	})
	if shared.err != nil {
		t.Fatalf("pgtest: no PostgreSQL with pgvector for the tests: %v", shared.err)
	}
	return shared.server
}

// New creates an empty database on the shared server and returns its URL. The
// database is dropped when the test ends.
func New(t testing.TB) string {
	t.Helper()
	return Shared(t).CreateDatabase(t)
}

// NewWithoutPgvector creates an empty database on a server where pgvector is
// really missing (see Options.WithoutPgvector), shared by the tests of this
// binary like New's, and returns its URL. The database is dropped when the
// test ends.
func NewWithoutPgvector(t testing.TB) string {
	t.Helper()
	SkipShort(t)
	noVector.once.Do(func() {
		var c *Cluster
		if c, noVector.err = StartCluster(Options{WithoutPgvector: true}); noVector.err == nil {
			noVector.server = c.Server()
		}
	})
	if noVector.err != nil {
		t.Fatalf("pgtest: no PostgreSQL without pgvector for the tests: %v", noVector.err)
	}
	return noVector.server.CreateDatabase(t)
}

// CreateDatabase creates an empty database, dropped when the test ends, and
// returns a URL that connects to it as the server's superuser.
func (s *Server) CreateDatabase(t testing.TB) string {
	t.Helper()
	name := "t_" + randomHex(6)
	if err := s.exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: creating database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE: a test that failed half-way may leave a pool open.
		_ = s.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return s.DatabaseURL(name)
}

// DatabaseURL returns the server's URL with the database name replaced.
func (s *Server) DatabaseURL(name string) string {
	u, err := url.Parse(s.URL)
	if err != nil {
		panic(fmt.Sprintf("pgtest: server URL %q does not parse: %v", s.URL, err))
	}
	u.Path = "/" + name
	return u.String()
}

// Connect opens a connection to the database at url (from New or
// CreateDatabase), closed when the test ends.
func Connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", redact(url), err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Catalog summarises what a read-only tool must never create in the database
// at url: its extensions, schemas and number of relations. Tests compare it
// before and after a run that promises to change nothing.
func Catalog(t testing.TB, url string) string {
	t.Helper()
	var s string
	err := Connect(t, url).QueryRow(context.Background(), `SELECT
		coalesce((SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension), '') || ' | ' ||
		(SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace) || ' | ' ||
		(SELECT count(*) FROM pg_class)`).Scan(&s)
	if err != nil {
		t.Fatalf("pgtest: reading the catalog: %v", err)
	}
	return s
}

// Exec runs one statement on the server's maintenance database, for tests that
// create roles or otherwise set the server up.
func (s *Server) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if err := s.exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

func (s *Server) exec(ctx context.Context, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

func (s *Server) requirePgvector() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'").Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("the server at %s has no pgvector extension: run `make deps` (scripts/install-postgres.sh)", redact(s.URL))
	}
	return nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
