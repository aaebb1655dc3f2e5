package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/internal/pgtest"
	"github.com/agentplatform/tenant-init/plugin"
)

var built struct {
	dir  string
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	var err error
	if built.dir, err = os.MkdirTemp("", "memory-plugin-bin-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := pgtest.Run(m)
	os.RemoveAll(built.dir)
	os.Exit(code)
}

// binary builds the command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.path = filepath.Join(built.dir, "memory-plugin")
		out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// command runs the binary with only the environment the test gives it:
// nothing leaks in from the developer's.
func command(t *testing.T, env ...string) *exec.Cmd {
	cmd := exec.Command(binary(t))
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	return cmd
}

// The binary end to end: it migrates, listens, sends READY=1 to the
// supervisor's socket (a path or an abstract name), serves, and exits 0
// within the bound on SIGTERM.
func TestTheBinaryServesSignalsReadinessAndStopsOnSIGTERM(t *testing.T) {
	dbURL := pgtest.New(t)
	for _, tt := range []struct{ name, socket string }{
		{"with a notify socket path", filepath.Join(t.TempDir(), "notify.sock")},
		{"with an abstract notify socket", fmt.Sprintf("@memory-plugin-test-%d", os.Getpid())},
	} {
		t.Run(tt.name, func(t *testing.T) {
			notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: strings.Replace(tt.socket, "@", "\x00", 1), Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer notify.Close()

			cmd := command(t, "MEMORY_PLUGIN_DATABASE_URL="+dbURL, "MEMORY_PLUGIN_LISTEN_ADDR=127.0.0.1:0",
				"MEMORY_PLUGIN_EMBEDDING_DIM=16", "NOTIFY_SOCKET="+tt.socket, "MEMORY_PLUGIN_TOKEN=0123456789abcdef0123")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			addr := make(chan string, 1)
			var logMu sync.Mutex
			var logs bytes.Buffer
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					logMu.Lock()
					logs.WriteString(sc.Text() + "\n")
					logMu.Unlock()
					var line struct{ Msg, Addr string }
					if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
						addr <- line.Addr
					}
				}
				exited <- cmd.Wait()
			}()
			defer func() {
				if cmd.ProcessState == nil {
					cmd.Process.Kill()
				}
				logMu.Lock()
				t.Logf("plugin log:\n%s", logs.String())
				logMu.Unlock()
			}()

			notify.SetReadDeadline(time.Now().Add(time.Minute))
			buf := make([]byte, 256)
			n, err := notify.Read(buf)
			if err != nil || string(buf[:n]) != "READY=1" {
				t.Fatalf("notify socket got %q, %v; want READY=1", buf[:n], err)
			}
			// READY=1 comes after listening, so the address is known.
			base := "http://" + <-addr
			resp, err := http.Get(base + "/v1/health")
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("health after READY=1: %v %v", resp, err)
			}
			resp.Body.Close()
			req, _ := http.NewRequest("POST", base+"/v1/search", strings.NewReader(`{"namespaces":["workspace:x"]}`))
			req.Header.Set("Content-Type", "application/json")
			if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("search without the token: %v %v; want 401", resp, err)
			}
			resp.Body.Close()

			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("exit after SIGTERM: %v; want status 0", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("still running 10 s after SIGTERM")
			}
		})
	}
}

// Startup failures exit with the documented code and one line that names
// the culprit and what to do.
func TestStartupFailuresExitWithTheirCodeAndOneLine(t *testing.T) {
	withoutPgvector := pgtest.NewWithoutPgvector(t)
	good := pgtest.New(t)
	u, err := url.Parse(withoutPgvector)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		env      []string
		wantCode int
		want     []string
	}{
		{"a missing database URL is a configuration error", nil, 78, []string{"MEMORY_PLUGIN_DATABASE_URL"}},
		{"a public address without a token is a configuration error",
			[]string{"MEMORY_PLUGIN_DATABASE_URL=" + good, "MEMORY_PLUGIN_LISTEN_ADDR=0.0.0.0:0"}, 78,
			[]string{"MEMORY_PLUGIN_LISTEN_ADDR", "MEMORY_PLUGIN_TOKEN", "MEMORY_PLUGIN_ALLOW_INSECURE=1"}},
		{"a bad dimension is a configuration error",
			[]string{"MEMORY_PLUGIN_DATABASE_URL=" + good, "MEMORY_PLUGIN_EMBEDDING_DIM=lots"}, 78, []string{"MEMORY_PLUGIN_EMBEDDING_DIM", "1 to 2000"}},
		{"a database URL that does not parse is a configuration error, its password unsaid",
			[]string{"MEMORY_PLUGIN_DATABASE_URL=postgres://u:topsecret@127.0.0.1:notaport/tenant"}, 78,
			[]string{"MEMORY_PLUGIN_DATABASE_URL", "does not parse", "postgres://user:password@host:5432/db"}},
		{"a relevance floor out of range is a configuration error",
			[]string{"MEMORY_PLUGIN_DATABASE_URL=" + good, "MEMORY_PLUGIN_MIN_SIMILARITY=1.5"}, 78, []string{"MEMORY_PLUGIN_MIN_SIMILARITY", "from 0 to 1"}},
		{"a database without pgvector says what to do",
			[]string{"MEMORY_PLUGIN_DATABASE_URL=" + withoutPgvector}, 69,
			[]string{"pgvector", "CREATE EXTENSION vector", "MEMORY_PLUGIN_DISABLE=1", strings.TrimPrefix(u.Path, "/")}},
		{"an unreachable database names it without the password",
			[]string{"MEMORY_PLUGIN_DATABASE_URL=postgres://u:topsecret@127.0.0.1:1/tenant?connect_timeout=2"}, 69,
			[]string{"tenant", "127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := command(t, tt.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitCode() != tt.wantCode {
				t.Fatalf("exit %v; want %d\n%s", err, tt.wantCode, stderr.String())
			}
			out := strings.TrimSpace(stderr.String())
			if strings.Count(out, "\n") != 0 {
				t.Fatalf("want one line, got:\n%s", out)
			}
			for _, w := range append(tt.want, "cannot start") {
				if !strings.Contains(out, w) {
					t.Errorf("%s\nlacks %q", out, w)
				}
			}
			if strings.Contains(out, "topsecret") {
				t.Errorf("the password leaked: %s", out)
			}
		})
	}
}

func TestHelpDocumentsEveryVariableAndExitCode(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--help exit %d: %s", code, stderr.String())
	}
	page, err := os.ReadFile("../../docs/memory-plugin.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range plugin.EnvVars {
		if !strings.Contains(stdout.String(), v.Name) {
			t.Errorf("--help lacks %s", v.Name)
		}
		if !bytes.Contains(page, []byte(v.Name)) {
			t.Errorf("docs/memory-plugin.md lacks %s", v.Name)
		}
	}
	for _, code := range []string{"64", "69", "71", "78"} {
		if !strings.Contains(stdout.String(), "  "+code+"  ") {
			t.Errorf("--help lacks exit code %s", code)
		}
	}
	stdout.Reset()
	if code := run([]string{"--no-such-flag"}, &stdout, &stderr); code != exitUsage {
		t.Fatalf("an unknown flag exits %d; want %d", code, exitUsage)
	}
}

// The command line is parsed by hand since cobra left this program; it
// answers as cobra did, so that nothing a script sees changed.
func TestTheCommandLineAnswersAsBefore(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // a line it must hold
		stderr string
	}{
		{"--version prints the version and the commit", []string{"--version"}, exitOK, "memory-plugin version dev (unknown)\n", ""},
		{"-v is --version", []string{"-v"}, exitOK, "memory-plugin version dev (unknown)\n", ""},
		{"-h prints the usage after the help", []string{"-h"}, exitOK, "  -v, --version   version for memory-plugin\n", ""},
		{"an unknown long flag is a usage error", []string{"--bad"}, exitUsage, "",
			"memory-plugin: unknown flag: --bad (see memory-plugin --help)\n"},
		{"an unknown short flag is a usage error", []string{"-x"}, exitUsage, "",
			"memory-plugin: unknown shorthand flag: 'x' in -x (see memory-plugin --help)\n"},
		{"an argument is a usage error", []string{"serve"}, exitUsage, "",
			"memory-plugin: unknown command \"serve\" for \"memory-plugin\" (see memory-plugin --help)\n"},
		{"--help wins over an argument", []string{"extra", "--help"}, exitOK, "Usage:\n", ""},
		{"an unknown flag wins over --help", []string{"--help", "--bad"}, exitUsage, "", "unknown flag: --bad"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d; want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) || (tc.stdout == "") != (stdout.Len() == 0) {
				t.Errorf("stdout %q; want it to hold %q", stdout.String(), tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderr) || (tc.stderr == "") != (stderr.Len() == 0) {
				t.Errorf("stderr %q; want it to hold %q", stderr.String(), tc.stderr)
			}
		})
	}
}
