package preflight

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/cutover"
	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/internal/inittest"
	"github.com/agentplatform/tenant-init/internal/pgtest"
	"github.com/agentplatform/tenant-init/supervisor"
)

func TestRunChecksWhatTheEnvironmentAsksFor(t *testing.T) {
	srv := pgtest.Shared(t)
	withVector := srv.CreateDatabase(t)
	noVectorDB := pgtest.NewWithoutPgvector(t)
	bin, err := os.Executable() // any executable file stands in for the sidecar binary
	if err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)

	tests := []struct {
		name   string
		env    map[string]string
		status Status
		want   map[string]Status
	}{
		{
			name:   "a tenant with no cutover variables checks nothing beyond env and user",
			env:    map[string]string{},
			status: Pass,
			want: map[string]Status{CheckEnv: Pass, CheckUser: Pass, CheckSidecarBinary: Skip, CheckCommand: Skip,
				CheckDatabase: Skip, CheckPgvector: Skip, CheckListen: Skip, CheckExternalPlugin: Skip},
		},
		{
			name:   "cutover on a database with pgvector passes every sidecar check",
			env:    map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": withVector, "MEMORY_PLUGIN_BIN": bin, "MEMORY_PLUGIN_LISTEN_ADDR": listen},
			status: Pass,
			want:   map[string]Status{CheckSidecarBinary: Pass, CheckDatabase: Pass, CheckPgvector: Pass, CheckListen: Pass, CheckExternalPlugin: Skip},
		},
		{
			name:   "cutover on a database without pgvector fails the pgvector check, as the old entrypoint's sidecar failed",
			env:    map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": noVectorDB, "MEMORY_PLUGIN_BIN": bin, "MEMORY_PLUGIN_LISTEN_ADDR": listen},
			status: Fail,
			want:   map[string]Status{CheckDatabase: Pass, CheckPgvector: Fail},
		},
		{
			name:   "cutover with the sidecar binary missing fails that check",
			env:    map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": withVector, "MEMORY_PLUGIN_BIN": "/nonexistent/memory-plugin", "MEMORY_PLUGIN_LISTEN_ADDR": listen},
			status: Fail,
			want:   map[string]Status{CheckSidecarBinary: Fail, CheckPgvector: Pass},
		},
		{
			// A non-loopback URL that resolves nowhere: the test sends no
			// traffic off this machine. A healthy external plugin is covered
			// by TestExternalPluginCheck.
			name:   "an external plugin is asked for its health instead of checking a database",
			env:    map[string]string{"MEMORY_V2_CUTOVER": "true", "MEMORY_PLUGIN_URL": "http://memory-plugin.invalid:9100"},
			status: Fail,
			want:   map[string]Status{CheckExternalPlugin: Fail, CheckDatabase: Skip, CheckSidecarBinary: Skip},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := pgtest.Catalog(t, withVector)
			plan, err := cutover.Read(envvar.Map(tt.env))
			if err != nil {
				t.Fatalf("cutover.Read: %v", err)
			}
			report := Run(context.Background(), Config{Memory: plan, AllowRoot: true, Timeout: 2 * time.Second})
			if report.Status != tt.status {
				t.Errorf("report status %s; want %s\n%s", report.Status, tt.status, text(report))
			}
			for id, want := range tt.want {
				if got, _ := report.Result(id); got.Status != want {
					t.Errorf("check %s: %+v; want %s", id, got, want)
				}
			}
			if after := pgtest.Catalog(t, withVector); after != before {
				t.Errorf("the database changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestAnInvalidEnvironmentFailsTheEnvCheckAndSkipsTheRest(t *testing.T) {
	_, err := cutover.Read(envvar.Map(map[string]string{"MEMORY_V2_CUTOVER": "yes"}))
	report := InvalidEnvironment(err)
	env, _ := report.Result(CheckEnv)
	if report.Status != Fail || env.Status != Fail || !strings.Contains(env.Detail, "true, false, 1 or 0") {
		t.Fatalf("report:\n%s", text(report))
	}
	if db, _ := report.Result(CheckDatabase); db.Status != Skip {
		t.Fatalf("database check ran on an invalid environment: %+v", db)
	}
}

func TestAUserThatCannotBeDroppedToFailsTheUserCheck(t *testing.T) {
	inittest.NeedsRoot(t) // dropping to a user
	ghost, err := supervisor.ParseUser("ghost-user-that-does-not-exist")
	if err != nil {
		t.Fatal(err)
	}
	report := Run(context.Background(), Config{User: ghost, Command: []string{"sh"}, PATH: "/bin", Timeout: 2 * time.Second})
	user, _ := report.Result(CheckUser)
	cmd, _ := report.Result(CheckCommand)
	if report.Status != Fail || user.Status != Fail || !strings.Contains(user.Detail, "exit 77") || cmd.Status != Skip {
		t.Fatalf("report:\n%s", text(report))
	}
}

func text(r Report) string {
	var b strings.Builder
	r.WriteText(&b)
	return b.String()
}
