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
	exited  chan struct{} // closed when the process has exited and been reaped
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
