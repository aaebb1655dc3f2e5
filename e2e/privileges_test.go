package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/agentplatform/tenant-init/internal/pgtest"
)

func TestEveryProcessInTheContainerRunsAsTheUnprivilegedUser(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		flags []string
		env   []string
	}{
		{name: "the image's own user 65532 runs the init, the sidecar and the main service"},
		{
			name:  "started as root, tenant-init drops to TENANT_INIT_USER before starting anything",
			flags: []string{"--user", "0:0"},
			env:   []string{"TENANT_INIT_USER=65532:65532"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := start(t, spec{flags: tc.flags, env: slices.Concat(tc.env, cutoverEnv(pgtest.New(t), freePort(t)))})
			c.waitFor(t, "demomain: round trip ok")
			ps := c.processes(t)
			if got, want := commands(ps), []string{"/app/server", "/memory-plugin", "/tenant-init"}; !slices.Equal(got, want) {
				t.Fatalf("processes in the container: %q, want %q", got, want)
			}
			for _, p := range ps {
				if p.uid != "65532 65532 65532 65532" || p.gid != "65532 65532 65532 65532" {
					t.Errorf("%s runs as Uid %q Gid %q, want 65532 for real, effective, saved and filesystem ids", p.args, p.uid, p.gid)
				}
				if slices.Contains(strings.Fields(p.groups), "0") {
					t.Errorf("%s keeps the supplementary group root: Groups %q", p.args, p.groups)
				}
			}
		})
	}
}
