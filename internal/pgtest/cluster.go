package pgtest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Options choose what kind of cluster StartCluster creates.
type Options struct {
	// WithoutPgvector starts the cluster from a private copy of the PostgreSQL
	// installation that lacks pgvector's files, so pg_available_extensions really
	// has no "vector": the database on which the old entrypoint's sidecar
	// failed every redeploy (docs/boot.md).
	WithoutPgvector bool
	// Settings are extra server settings ("name=value"), applied after the
	// defaults so they override them: the plugin benchmark starts clusters
	// with PostgreSQL's stock settings or with the plugin's recommended ones.
	Settings []string
}

// A Cluster is a throwaway PostgreSQL cluster on a loopback port.
type Cluster struct {
	Dir      string // holds the data directory, the log and any private installation
	Port     int
	bin      string // directory of initdb, pg_ctl and postgres
	cred     *syscall.Credential
	settings []string
}

// StartCluster creates and starts a cluster. It is removed by Run, or by Remove.
func StartCluster(opts Options) (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: bin, settings: opts.Settings}
	clustersMu.Lock()
	clusters = append(clusters, c)
	clustersMu.Unlock()

	// initdb refuses to run as root; as root, run the server as "postgres".
	if os.Geteuid() == 0 {
		if c.cred, err = postgresCredential(); err != nil {
			return nil, err
		}
		// The server writes its log beside the data directory.
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, err
		}
	}
	if opts.WithoutPgvector {
		if c.bin, err = installationWithoutPgvector(bin, filepath.Join(dir, "install")); err != nil {
			return nil, fmt.Errorf("copying the installation without pgvector: %w", err)
		}
	}
	if err := c.mkdirOwned(filepath.Join(dir, "data")); err != nil {
		return nil, err
	}
	if err := c.run("initdb", "-D", c.dataDir(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		return nil, err
	}
	if c.Port, err = freePort(); err != nil {
		return nil, err
	}
	return c, c.Start()
}

// Server returns the cluster as a Server to create databases in.
func (c *Cluster) Server() *Server {
	return &Server{URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)}
}

// Start starts the (stopped) cluster on its port and waits until it accepts
// connections. Tests that take the database away call Stop, then Start.
func (c *Cluster) Start() error {
	// Settings for speed: the data is thrown away, durability buys nothing.
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories='' "+
		"-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "+
		"-c shared_buffers=128MB", c.Port)
	for _, s := range c.settings {
		opts += " -c " + s
	}
	return c.run("pg_ctl", "start", "-w", "-t", "60", "-D", c.dataDir(), "-l", filepath.Join(c.Dir, "postgres.log"), "-o", opts)
}

// Stop stops the cluster immediately (in-flight sessions are cut off).
func (c *Cluster) Stop() error {
	return c.run("pg_ctl", "stop", "-w", "-t", "60", "-m", "immediate", "-D", c.dataDir())
}

// PID returns the postmaster's process id, the first line of its
// postmaster.pid (benchmarks read the cluster's CPU time from /proc).
func (c *Cluster) PID() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.dataDir(), "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, fmt.Errorf("postmaster.pid: %w", err)
	}
	return pid, nil
}

// Remove stops the cluster if it runs and deletes its files.
func (c *Cluster) Remove() error {
	if _, err := os.Stat(filepath.Join(c.dataDir(), "postmaster.pid")); err == nil {
		if err := c.Stop(); err != nil {
			return err
		}
	}
	return os.RemoveAll(c.Dir)
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }

func (c *Cluster) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.Dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		logTail, _ := os.ReadFile(filepath.Join(c.Dir, "postgres.log"))
		return fmt.Errorf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out.Bytes(), tail(logTail, 2000))
	}
	return nil
}

func (c *Cluster) mkdirOwned(path string) error {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return err
	}
	if c.cred != nil {
		return os.Chown(path, int(c.cred.Uid), int(c.cred.Gid))
	}
	return nil
}

// binDir finds PostgreSQL's server binaries: PG_BINDIR, then pg_config on PATH
// or in Debian's versioned directory, then initdb on PATH.
func binDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d, nil
	}
	for _, pgConfig := range []string{"pg_config", "/usr/lib/postgresql/15/bin/pg_config"} {
		if out, err := exec.Command(pgConfig, "--bindir").Output(); err == nil {
			d := strings.TrimSpace(string(out))
			if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
				return d, nil
			}
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: install PostgreSQL 15 and pgvector with `make deps`, set PG_BINDIR, or set TEST_DATABASE_URL")
}

func postgresCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, the test cluster needs the \"postgres\" user (initdb refuses root): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// installationWithoutPgvector copies the PostgreSQL installation of bin into
// root, keeping the directory layout so the server finds its share directory
// relative to its own binary, and leaves pgvector's files out. Libraries are
// linked, not copied: without vector.control the extension is unavailable.
func installationWithoutPgvector(bin, root string) (string, error) {
	pgConfig := filepath.Join(bin, "pg_config")
	get := func(flag string) (string, error) {
		out, err := exec.Command(pgConfig, flag).Output()
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", pgConfig, flag, err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	share, err := get("--sharedir")
	if err != nil {
		return "", err
	}
	pkglib, err := get("--pkglibdir")
	if err != nil {
		return "", err
	}
	newBin := filepath.Join(root, strings.TrimPrefix(bin, "/"))
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		if err := copyFile(filepath.Join(bin, name), filepath.Join(newBin, name)); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(root, pkglib)), 0o755); err != nil {
		return "", err
	}
	if err := os.Symlink(pkglib, filepath.Join(root, pkglib)); err != nil && !os.IsExist(err) {
		return "", err
	}
	err = filepath.WalkDir(share, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), "vector.") || strings.HasPrefix(d.Name(), "vector--") {
			return nil
		}
		dst := filepath.Join(root, path)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		return copyFile(path, dst)
	})
	if err != nil {
		return "", err
	}
	return newBin, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chmod(path, 0o755)
		}
		return err
	})
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, info.Mode().Perm()|0o444)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
