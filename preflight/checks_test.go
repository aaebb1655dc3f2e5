package preflight

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/internal/inittest"
	"github.com/agentplatform/tenant-init/internal/pgtest"
	"github.com/agentplatform/tenant-init/supervisor"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func assertResult(t *testing.T, got Result, id string, status Status, detail string) {
	t.Helper()
	if got.ID != id || got.Status != status || !strings.Contains(got.Detail, detail) {
		t.Fatalf("got %+v; want id %s, status %s, detail containing %q", got, id, status, detail)
	}
	if status == Fail && got.Hint == "" {
		t.Fatalf("failure %+v carries no hint", got)
	}
}

func TestDatabaseAndPgvectorChecks(t *testing.T) {
	srv := pgtest.Shared(t)
	withVector := srv.CreateDatabase(t)
	exec(t, withVector, "CREATE EXTENSION vector")

	// A role that may log in but may not create pgvector (not a superuser).
	plainDB := srv.CreateDatabase(t)
	srv.Exec(t, "DROP ROLE IF EXISTS preflight_plain")
	srv.Exec(t, "CREATE ROLE preflight_plain LOGIN")
	t.Cleanup(func() { srv.Exec(t, "DROP OWNED BY preflight_plain CASCADE; DROP ROLE IF EXISTS preflight_plain") })
	plainRole := strings.Replace(plainDB, "postgres@", "preflight_plain@", 1)

	noVectorDB := pgtest.NewWithoutPgvector(t)

	down, err := pgtest.StartCluster(pgtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	downDB := down.Server().DatabaseURL("postgres")
	if err := down.Stop(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name           string
		url            string
		dbStatus       Status
		vectorStatus   Status
		vectorDetail   string
		vectorHintPart string
	}{
		{name: "an installed extension passes", url: withVector, dbStatus: Pass, vectorStatus: Pass, vectorDetail: "is installed"},
		{name: "a superuser that may create it passes", url: srv.CreateDatabase(t), dbStatus: Pass, vectorStatus: Pass, vectorDetail: "superuser and may create it"},
		{name: "a role that may not create it fails with the SQL to run", url: plainRole, dbStatus: Pass, vectorStatus: Fail, vectorDetail: `role "preflight_plain" may not create it`, vectorHintPart: "CREATE EXTENSION vector"},
		{name: "a server without pgvector fails with how to install it", url: noVectorDB, dbStatus: Pass, vectorStatus: Fail, vectorDetail: `extension "vector" is not available`, vectorHintPart: "postgresql-15-pgvector"},
		{name: "a database that is down fails the database check", url: downDB, dbStatus: Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, conn := checkDatabase(ctx(t), tt.url)
			if db.Status != tt.dbStatus {
				t.Fatalf("database check: %+v; want %s", db, tt.dbStatus)
			}
			if conn == nil {
				if tt.dbStatus == Pass {
					t.Fatal("no connection after a passing database check")
				}
				return
			}
			defer conn.Close(context.Background())
			if !strings.Contains(db.Detail, "PostgreSQL 15") {
				t.Fatalf("database detail %q lacks the server version", db.Detail)
			}
			got := checkPgvector(ctx(t), conn)
			assertResult(t, got, CheckPgvector, tt.vectorStatus, tt.vectorDetail)
			if !strings.Contains(got.Hint, tt.vectorHintPart) {
				t.Fatalf("hint %q lacks %q", got.Hint, tt.vectorHintPart)
			}
		})
	}
}

func TestTheDatabaseCheckNeverShowsThePassword(t *testing.T) {
	got, _ := checkDatabase(ctx(t), "postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=1")
	if got.Status != Fail || strings.Contains(got.Detail, "s3cret") {
		t.Fatalf("got %+v; want a failure that hides the password", got)
	}
}

func TestListenCheck(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ok","version":"1.0.0","capabilities":["fts"]}`))
	}))
	defer healthy.Close()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free := freeAddr(t)

	tests := []struct {
		name   string
		addr   string
		probe  string
		status Status
		detail string
	}{
		{name: "a free port passes", addr: free, probe: "http://" + free, status: Pass, detail: "is free"},
		{name: "a port held by something else fails", addr: taken.Addr().String(), probe: "http://" + taken.Addr().String(), status: Fail, detail: "address already in use"},
		{name: "a port held by a healthy plugin passes", addr: healthy.Listener.Addr().String(), probe: healthy.URL, status: Pass, detail: "healthy memory plugin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			assertResult(t, checkListen(c, tt.addr, tt.probe), CheckListen, tt.status, tt.detail)
		})
	}
}

func TestExternalPluginCheck(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/health" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"status":"ok","version":"1.0.0","capabilities":["fts","embedding"]}`))
	}))
	defer healthy.Close()
	degraded := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"degraded","version":"1.0.0","capabilities":[]}`))
	}))
	defer degraded.Close()

	tests := []struct {
		name   string
		url    string
		status Status
		detail string
	}{
		{name: "a healthy plugin passes with its capabilities", url: healthy.URL, status: Pass, detail: "capabilities fts,embedding"},
		{name: "a degraded plugin fails with its answer", url: degraded.URL, status: Fail, detail: "503 Service Unavailable"},
		{name: "a plugin that is not there fails", url: "http://" + freeAddr(t), status: Fail, detail: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertResult(t, checkExternalPlugin(ctx(t), tt.url), CheckExternalPlugin, tt.status, tt.detail)
		})
	}
}

func TestExecutableChecks(t *testing.T) {
	inittest.NeedsRoot(t) // files only root may run, checked for another uid
	// Not t.TempDir: its parent is private to root, so no other user could
	// reach anything inside it, which is exactly what these checks detect.
	dir, err := os.MkdirTemp("", "preflight-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	everyone := write("everyone", 0o755)
	ownerOnly := write("owner-only", 0o700)
	noExec := write("no-exec", 0o644)
	hidden := filepath.Join(dir, "locked")
	if err := os.Mkdir(hidden, 0o700); err != nil {
		t.Fatal(err)
	}
	inLocked := filepath.Join(hidden, "tool")
	if err := os.WriteFile(inLocked, nil, 0o755); err != nil {
		t.Fatal(err)
	}

	root := supervisor.Credentials{UID: 0, GID: 0}
	nobody := supervisor.Credentials{UID: 65534, GID: 65534}
	tests := []struct {
		name   string
		path   string
		id     supervisor.Credentials
		status Status
		detail string
	}{
		{name: "a binary executable by everyone passes for an unprivileged user", path: everyone, id: nobody, status: Pass, detail: "is executable by uid 65534"},
		{name: "a root-only binary fails for the unprivileged user", path: ownerOnly, id: nobody, status: Fail, detail: "is not executable by uid 65534"},
		{name: "a root-only binary passes for root", path: ownerOnly, id: root, status: Pass},
		{name: "a file without execute bits fails even for root", path: noExec, id: root, status: Fail, detail: "mode -rw-r--r--"},
		{name: "a missing binary fails", path: filepath.Join(dir, "missing"), id: root, status: Fail, detail: "no such file or directory"},
		{name: "a binary in a directory the user cannot search fails", path: inLocked, id: nobody, status: Fail, detail: "is not searchable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertResult(t, checkSidecarBinary(tt.path, tt.id), CheckSidecarBinary, tt.status, tt.detail)
		})
	}

	t.Run("a command is resolved through PATH like the boot does", func(t *testing.T) {
		assertResult(t, checkCommand("everyone", "/nonexistent:"+dir, nobody), CheckCommand, Pass, "resolves to "+everyone)
	})
	t.Run("a command missing from PATH fails", func(t *testing.T) {
		assertResult(t, checkCommand("nosuchcommand", dir, nobody), CheckCommand, Fail, "not found in PATH")
	})
	t.Run("a command found but not executable fails with the reason", func(t *testing.T) {
		assertResult(t, checkCommand("no-exec", dir, nobody), CheckCommand, Fail, "is not executable")
	})
}

func exec(t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(ctx(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx(t), sql); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestTheSettingsCheckWarnsWhenSharedBuffersAreFarBelowThePluginsNeeds(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name          string
		sharedBuffers int64
		tableBytes    int64
		status        Status
		detail        string
		hint          string
	}{
		{"PostgreSQL's stock 128 MB warns even for an empty plugin", 128 * mb, 0, Warn, "below the 256 MB", "at least 256 MB"},
		{"256 MB with a small table passes", 256 * mb, 40 * mb, Pass, "shared_buffers is 256 MB", ""},
		{"a table and indexes larger than shared_buffers warn, asking for a quarter's headroom", 512 * mb, 800 * mb, Warn, "smaller than the memory tables and indexes (800 MB)", "at least 1000 MB"},
		{"shared_buffers that hold the table pass", 1024 * mb, 800 * mb, Pass, "take 800 MB", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := judgeSettings(tt.sharedBuffers, tt.tableBytes)
			assertResult(t, got, CheckDatabaseSettings, tt.status, tt.detail)
			if !strings.Contains(got.Hint, tt.hint) {
				t.Fatalf("hint %q lacks %q", got.Hint, tt.hint)
			}
		})
	}
}

func TestTheSettingsCheckReadsARealServer(t *testing.T) {
	big, err := pgtest.StartCluster(pgtest.Options{Settings: []string{"shared_buffers=300MB"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { big.Remove() })
	stock := pgtest.Shared(t).CreateDatabase(t) // pgtest runs 128 MB
	// The plugin's three tables count together (memory_vectors holds the
	// HNSW index); a schema without memory_records is not the plugin's.
	exec(t, stock, "CREATE SCHEMA memory_plugin; CREATE TABLE memory_plugin.memory_records (content text); "+
		"INSERT INTO memory_plugin.memory_records SELECT repeat('x', 1000) FROM generate_series(1, 3000); "+
		"CREATE TABLE memory_plugin.memory_vectors (embedding text); "+
		"INSERT INTO memory_plugin.memory_vectors SELECT repeat('x', 1000) FROM generate_series(1, 3000); "+
		"CREATE SCHEMA other; CREATE TABLE other.memory_vectors (embedding text); "+
		"INSERT INTO other.memory_vectors SELECT repeat('x', 1000) FROM generate_series(1, 9000)")

	tests := []struct {
		name   string
		url    string
		status Status
		detail string
	}{
		{"a stock server warns and counts the plugin's tables of one schema together", stock, Warn, "shared_buffers is 128 MB, below the 256 MB the memory plugin's recall figures need (memory tables: 6 MB)"},
		{"a server with 300 MB passes", big.Server().DatabaseURL("postgres"), Pass, "shared_buffers is 300 MB; the memory tables and indexes take 0 MB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := pgx.Connect(ctx(t), tt.url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			assertResult(t, checkDatabaseSettings(ctx(t), conn), CheckDatabaseSettings, tt.status, tt.detail)
		})
	}
}
