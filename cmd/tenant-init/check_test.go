package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/agentplatform/tenant-init/internal/inittest"
	"github.com/agentplatform/tenant-init/internal/pgtest"
)

// checkReport is the --json output, decoded the way a script would.
type checkReport struct {
	Status string `json:"status"`
	Checks []struct {
		ID, Status, Detail, Hint string
	} `json:"checks"`
}

func (r checkReport) status(id string) string {
	for _, c := range r.Checks {
		if c.ID == id {
			return c.Status
		}
	}
	return "absent"
}

// runCheck runs `tenant-init check --json` with exactly env, as uid (0 = root),
// and returns its exit status and decoded report.
func runCheck(t *testing.T, uid uint32, env []string, args ...string) (int, checkReport, string) {
	t.Helper()
	cmd := exec.Command(tenantInit, append([]string{"check", "--json", "--timeout", "3s"}, args...)...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	if uid != 0 {
		inittest.NeedsRoot(t)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var report checkReport
	if code != 64 {
		if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
			t.Fatalf("--json printed no JSON object (%v):\n%s\nstderr: %s", err, stdout.String(), stderr.String())
		}
		if len(report.Checks) != 9 {
			t.Fatalf("report has %d checks, want all 9:\n%s", len(report.Checks), stdout.String())
		}
	}
	return code, report, stdout.String() + stderr.String()
}

func TestCheck(t *testing.T) {
	srv := pgtest.Shared(t)
	withVector := srv.CreateDatabase(t)
	noVectorDB := pgtest.NewWithoutPgvector(t)
	free := freeLoopbackAddr(t)
	cutover := func(db string) []string {
		return []string{"MEMORY_V2_CUTOVER=true", "DATABASE_URL=" + db, "MEMORY_PLUGIN_BIN=" + tenantInit, "MEMORY_PLUGIN_LISTEN_ADDR=" + free}
	}

	tests := []struct {
		name     string
		uid      uint32
		env      []string
		args     []string
		code     int
		status   string
		want     map[string]string
		contains string
	}{
		{name: "a tenant without cutover passes with the sidecar checks skipped", env: []string{"TENANT_INIT_USER=65534"},
			code: 0, status: "pass", want: map[string]string{"env": "pass", "user": "pass", "database": "skip", "pgvector": "skip"}},
		{name: "cutover on a database with pgvector passes every check", env: append(cutover(withVector), "TENANT_INIT_USER=65534"), args: []string{"--", "sh"},
			code: 0, status: "pass", want: map[string]string{"sidecar-binary": "pass", "command": "pass", "database": "pass", "pgvector": "pass", "listen": "pass",
				// pgtest's clusters run with 128 MB of shared_buffers: a
				// warning, which leaves the verdict pass and the exit 0.
				"database-settings": "warn"}},
		{name: "cutover on a database without pgvector exits 1 and says how to install it", env: append(cutover(noVectorDB), "TENANT_INIT_USER=65534"),
			code: 1, status: "fail", want: map[string]string{"database": "pass", "pgvector": "fail"}, contains: "postgresql-15-pgvector"},
		{name: "a missing main command exits 1", env: []string{"TENANT_INIT_ALLOW_ROOT=1"}, args: []string{"--", "no-such-server"},
			code: 1, status: "fail", want: map[string]string{"command": "fail"}},
		{name: "root without a user exits 1 on the user check, as the boot would refuse", env: nil,
			code: 1, status: "fail", want: map[string]string{"user": "fail"}, contains: "exit 77"},
		{name: "an invalid cutover value exits 78 with the env check failing", env: []string{"MEMORY_V2_CUTOVER=yes"},
			code: 78, status: "fail", want: map[string]string{"env": "fail", "database": "skip"}, contains: "accepted: true, false, 1 or 0"},
		{name: "an invalid tenant-init value exits 78 too", env: []string{"TENANT_INIT_GRACE=soon"},
			code: 78, status: "fail", want: map[string]string{"env": "fail"}, contains: "TENANT_INIT_GRACE"},
		{name: "the unprivileged user can run it and sees the services would run as itself", uid: 65534, env: cutover(withVector),
			code: 0, status: "pass", want: map[string]string{"user": "pass", "database": "pass", "pgvector": "pass"}, contains: "not started as root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := pgtest.Catalog(t, withVector)
			code, report, out := runCheck(t, tt.uid, tt.env, tt.args...)
			if code != tt.code || report.Status != tt.status {
				t.Fatalf("exit %d, status %q; want %d, %q\n%s", code, report.Status, tt.code, tt.status, out)
			}
			for id, want := range tt.want {
				if got := report.status(id); got != want {
					t.Errorf("check %s is %s; want %s\n%s", id, got, want, out)
				}
			}
			if !strings.Contains(out, tt.contains) {
				t.Errorf("output lacks %q:\n%s", tt.contains, out)
			}
			if after := pgtest.Catalog(t, withVector); after != before {
				t.Errorf("check changed the database: %s -> %s", before, after)
			}
		})
	}
}

func TestCheckRejectsBadFlagsAsUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"--timeout", "soon"}, {"--timeout", "0s"}, {"--no-such-flag"}} {
		code, _, out := runCheck(t, 0, nil, args...)
		if code != 64 || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("check %v: exit %d, output %q; want 64 and one line", args, code, out)
		}
	}
}

func TestCheckPrintsOneLinePerCheckForHumans(t *testing.T) {
	cmd := exec.Command(tenantInit, "check", "--allow-root")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 10 || lines[9] != "preflight: pass" {
		t.Fatalf("want 9 check lines and the verdict:\n%s", out)
	}
	for i, id := range []string{"env", "user", "sidecar-binary", "command", "database", "pgvector", "database-settings", "listen", "external-plugin"} {
		if f := strings.Fields(lines[i]); len(f) < 2 || f[1] != id {
			t.Errorf("line %d is %q; want check %s", i, lines[i], id)
		}
	}
}

// freeLoopbackAddr returns a loopback address nobody listens on, e.g. for one
// sidecar, so that tests using it may run in parallel.
func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
