package pluginbench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentplatform/tenant-init/internal/pgtest"
)

// A server under test: a process of its own (so that its RSS is its own) on a
// loopback port, with a PostgreSQL cluster of its own. One cluster each, with
// the same settings, is the fair choice: neither server's table and indexes
// compete with the other's for shared_buffers or the OS page cache's hot set,
// as they would not in a tenant, which runs one plugin.
type server struct {
	name    string
	cluster *pgtest.Cluster
	cmd     *exec.Cmd
	client  *client
	dbURL   string
	// postmaster is the cluster's postmaster, whose children's CPU time is
	// the server's PostgreSQL's (cpu).
	postmaster int
	exited     chan struct{} // closed when the process has exited and been reaped
}

// startServer starts a cluster with settings, then argv with env plus the
// database URL and listen address in the variables dbVar and listenVar (or,
// when those are "", as the flags -database-url and -listen).
func startServer(ctx context.Context, name string, settings []string, argv []string, dbVar, listenVar, logDir string, clients int) (*server, error) {
	cluster, err := pgtest.StartCluster(pgtest.Options{Settings: settings})
	if err != nil {
		return nil, fmt.Errorf("%s: starting PostgreSQL: %w", name, err)
	}
	s := &server{name: name, cluster: cluster, dbURL: cluster.Server().URL}
	if s.postmaster, err = cluster.PID(); err != nil {
		s.stop()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	addr, err := freeAddr()
	if err != nil {
		s.stop()
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = os.Environ()
	if dbVar != "" {
		cmd.Env = append(cmd.Env, dbVar+"="+s.dbURL, listenVar+"="+addr)
	} else {
		cmd.Args = append(cmd.Args, "-database-url", s.dbURL, "-listen", addr)
	}
	logFile, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		s.stop()
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		s.stop()
		return nil, fmt.Errorf("%s: starting %s: %w", name, argv[0], err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }() //nolint:errcheck // the log file has the reason
	s.client = newClient("http://"+addr, 2*clients)
	if err := s.waitHealthy(ctx, 60*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%s: %w (log: %s)", name, err, logFile.Name())
	}
	return s, nil
}

// waitHealthy polls /v1/health until it answers 200 or the process exits.
func (s *server) waitHealthy(ctx context.Context, limit time.Duration) error {
	deadline := time.After(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.client.base+"/v1/health", nil)
		if resp, err := s.client.http.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited before it was healthy")
		case <-deadline:
			return fmt.Errorf("not healthy within %s", limit)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// waitIndexed polls ours' /v1/health until its background vector index
// holds at least n memories with nothing pending and no rebuild running, and
// returns how long that took; a server without "vector_index" (the baseline)
// has nothing to wait for. Recall is then measured in the steady state an
// operator sees after a load, and the wait is reported as a figure of its own.
func (s *server) waitIndexed(ctx context.Context, n int64, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := time.After(limit)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var health struct {
			VectorIndex *struct {
				Pending, Indexed int64
				Rebuilding       bool
			} `json:"vector_index"`
		}
		body, err := s.client.do(ctx, http.MethodGet, "/v1/health", nil, http.StatusOK)
		if err == nil {
			err = json.Unmarshal(body, &health)
		}
		if err != nil {
			return 0, fmt.Errorf("%s: reading /v1/health: %w", s.name, err)
		}
		v := health.VectorIndex
		if v == nil || v.Indexed >= n && v.Pending == 0 && !v.Rebuilding {
			return time.Since(start), nil
		}
		select {
		case <-s.exited:
			return 0, fmt.Errorf("%s exited while its vector index was being built", s.name)
		case <-deadline:
			return 0, fmt.Errorf("%s: vector index not complete within %s (%d indexed, %d pending)", s.name, limit, v.Indexed, v.Pending)
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
}

func (s *server) stop() {
	if s.exited != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if s.cluster != nil {
		s.cluster.Remove()
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// cpu returns the CPU time spent so far by the server's process and by its
// PostgreSQL.
func (s *server) cpu() (CPUSplit, error) {
	own, err := processCPU(s.cmd.Process.Pid)
	if err != nil {
		return CPUSplit{}, fmt.Errorf("%s: %w", s.name, err)
	}
	pg, err := clusterCPU(s.postmaster)
	if err != nil {
		return CPUSplit{}, fmt.Errorf("%s: PostgreSQL: %w", s.name, err)
	}
	return CPUSplit{own, pg}, nil
}

// settle waits until the server has finished what a phase left it to do:
// ours' background vector indexer has emptied its queue, and no backend of
// its PostgreSQL is active (the indexer's VACUUM, an autovacuum worker), seen
// twice 50 ms apart. The other server's next phase then does not share the
// machine with this one's deferred work, and that work's CPU is counted as
// this server's.
func (s *server) settle(ctx context.Context, limit time.Duration) error {
	conn, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	defer conn.Close(ctx)
	var hasQueue bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('memory_plugin.memory_vector_queue') IS NOT NULL`).Scan(&hasQueue); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	busy := `SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()
		AND backend_type IN ('client backend', 'autovacuum worker')`
	if hasQueue {
		busy += ` UNION ALL SELECT count(*) FROM memory_plugin.memory_vector_queue`
	}
	deadline := time.Now().Add(limit)
	for quiet := 0; quiet < 2; {
		rows, err := conn.Query(ctx, busy)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		counts, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		quiet++
		for _, n := range counts {
			if n > 0 {
				quiet = 0
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: still busy %s after a phase (active backends, then queued memories: %v)", s.name, limit, counts)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// vacuum runs VACUUM (ANALYZE) on the server's whole database (its own
// cluster's, which holds nothing else), then lets the server settle.
func (s *server) vacuum(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
		return fmt.Errorf("%s: VACUUM: %w", s.name, err)
	}
	return s.settle(ctx, settleLimit)
}
