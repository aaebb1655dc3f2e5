package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentplatform/tenant-init/internal/inittest"
)

// testUsers replaces /etc/passwd and /etc/group inside the init's own mount
// namespace, so that no test touches the machine's.
func testUsers(t *testing.T) inittest.Options {
	t.Helper()
	abs := func(name string) string {
		p, err := filepath.Abs(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	return inittest.Options{Binds: map[string]string{"/etc/passwd": abs("passwd"), "/etc/group": abs("group")}}
}

func TestPrivilegesAreDroppedBeforeAnyServiceStarts(t *testing.T) {
	tests := []struct {
		name             string
		user             string
		uid, gid, groups string
	}{
		{name: "a user name takes its ids and its groups from /etc/passwd and /etc/group",
			user: "app", uid: "1000", gid: "1000", groups: "1000 2001 2002"},
		{name: "a uid known to /etc/passwd takes its gid and groups from there",
			user: "1000", uid: "1000", gid: "1000", groups: "1000 2001 2002"},
		{name: "an unknown uid runs with gid = uid and no supplementary group",
			user: "1500", uid: "1500", gid: "1500", groups: ""},
		{name: "uid:gid needs no /etc/passwd entry",
			user: "1500:1600", uid: "1500", gid: "1600", groups: ""},
	}
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in := start(t, mode, testUsers(t), "--user", tt.user, "cat", "/proc/self/status")
				if got := in.Wait(); got != 0 {
					t.Fatalf("tenant-init exited %d, want 0", got)
				}
				status := procStatus(in.Stdout.All())
				want := map[string]string{
					"Uid":    strings.Repeat(tt.uid+" ", 3) + tt.uid,
					"Gid":    strings.Repeat(tt.gid+" ", 3) + tt.gid,
					"Groups": tt.groups,
					"CapEff": "0000000000000000",
					"CapPrm": "0000000000000000",
				}
				for field, value := range want {
					if status[field] != value {
						t.Errorf("service's %s: %q, want %q", field, status[field], value)
					}
				}
				if dropped := in.Logs("privileges dropped"); len(dropped) != 1 || dropped[0]["uid"] == nil {
					t.Errorf("want one 'privileges dropped' line, got %v", dropped)
				}
			})
		}
	})
}

// procStatus reads "Field:\tvalue" lines, values with single spaces.
func procStatus(lines []string) map[string]string {
	status := map[string]string{}
	for _, line := range lines {
		if field, value, ok := strings.Cut(line, ":"); ok {
			status[field] = strings.Join(strings.Fields(value), " ")
		}
	}
	return status
}

func TestServicesDoNotRunAsRootUnlessAllowed(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     []string
		want    int
		wantLog string
	}{
		{name: "no user and no --allow-root is refused with 77",
			args: []string{"true"}, want: 77, wantLog: "refusing to run services as root"},
		{name: "--user root is refused with 77", args: []string{"--user", "root", "true"},
			want: 77, wantLog: "refusing to run services as root"},
		{name: "--user 0:0 is refused with 77", args: []string{"--user", "0:0", "true"},
			want: 77, wantLog: "refusing to run services as root"},
		{name: "an unknown user name exits 77 naming it", args: []string{"--user", "nosuch", "true"},
			want: 77, wantLog: `cannot drop privileges: user "nosuch" not found in /etc/passwd`},
		{name: "--allow-root runs services as root", args: []string{"--allow-root", "true"},
			want: 0, wantLog: "running services as root, as allowed"},
		{name: "TENANT_INIT_ALLOW_ROOT=1 runs services as root", args: []string{"true"},
			env: []string{"TENANT_INIT_ALLOW_ROOT=1"}, want: 0, wantLog: "running services as root, as allowed"},
	}
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				opts := testUsers(t)
				opts.Env = tt.env
				in := start(t, mode, opts, tt.args...)
				if got := in.Wait(); got != tt.want {
					t.Fatalf("tenant-init exited %d, want %d", got, tt.want)
				}
				in.AwaitLogContaining(tt.wantLog)
				if started := in.Logs("service started"); tt.want != 0 && len(started) > 0 {
					t.Fatalf("a service started although the init refused: %v", started)
				}
			})
		}
	})
}

func TestStartedAsNonRootServicesRunAsIs(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		opts := testUsers(t)
		opts.RunAs = "1500:1500"
		in := start(t, mode, opts, "cat", "/proc/self/status")
		if got := in.Wait(); got != 0 {
			t.Fatalf("tenant-init exited %d, want 0", got)
		}
		if uid := procStatus(in.Stdout.All())["Uid"]; uid != "1500 1500 1500 1500" {
			t.Fatalf("service's Uid: %q, want 1500 throughout", uid)
		}
		in.AwaitLog("not started as root: services run as is")
	})
}
