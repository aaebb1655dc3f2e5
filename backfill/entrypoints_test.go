package backfill

import (
	"encoding/json"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The operators' runbook reaches the backfill two ways, /memory-backfill and
// /tenant-init backfill (docker exec); both must be the same program.
func TestTenantInitBackfillAndMemoryBackfillGiveIdenticalResults(t *testing.T) {
	f := newFixture(t, allColumns, 500)
	p := startPlugin(t, f.url, "")
	env := []string{"DATABASE_URL=" + f.url, "MEMORY_PLUGIN_URL=" + p.URL}
	run := func(argv ...string) (map[string]any, int) {
		t.Helper()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		out, err := cmd.Output()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", argv, err)
		}
		var report map[string]any
		if err := json.Unmarshal(out, &report); err != nil {
			t.Fatalf("%v printed no JSON report: %v\n%.500s", argv, err, out)
		}
		// Timings are the only fields that may differ between two runs.
		delete(report, "elapsed")
		delete(report, "elapsed_seconds")
		return report, code
	}
	memoryBackfill := binary(t, "memory-backfill")
	tenantInit := []string{binary(t, "tenant-init"), "backfill"}

	viaTool, toolCode := run(memoryBackfill, "-dry-run", "-json")
	viaInit, initCode := run(append(tenantInit, "--dry-run", "-json")...)
	if toolCode != initCode {
		t.Fatalf("dry runs exit %d (memory-backfill) and %d (tenant-init backfill)", toolCode, initCode)
	}
	if len(viaTool) != len(viaInit) {
		t.Errorf("dry-run reports have %d and %d keys", len(viaTool), len(viaInit))
	}
	for key := range viaTool {
		if !reflect.DeepEqual(viaTool[key], viaInit[key]) {
			t.Errorf("dry-run reports differ in %q:\nmemory-backfill:      %.300v\ntenant-init backfill: %.300v", key, viaTool[key], viaInit[key])
		}
	}
	if _, code := run(append(tenantInit, "-apply", "-json")...); code != 0 {
		t.Fatalf("tenant-init backfill -apply exited %d", code)
	}
	if _, code := run(memoryBackfill, "-verify", "-json"); code != 0 {
		t.Fatalf("memory-backfill -verify after tenant-init backfill -apply exited %d", code)
	}
	if rows, _ := p.records(t); rows != f.counts().copy {
		t.Fatalf("the plugin holds %d rows, want %d", rows, f.counts().copy)
	}
}

// The platform backfill's flags reach Main in every form either entry point
// accepts, and a bad value is the same one line and exit 64 from both.
func TestBothEntryPointsTakeThePlatformFlagsInEveryForm(t *testing.T) {
	f := newFixture(t, noOptionalCols, 40)
	env := []string{"DATABASE_URL=" + f.url}
	run := func(argv ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", argv, err)
		}
		return out.String(), errOut.String(), code
	}
	entries := map[string][]string{
		"memory-backfill":      {binary(t, "memory-backfill")},
		"tenant-init backfill": {binary(t, "tenant-init"), "backfill"},
	}
	for name, entry := range entries {
		for _, form := range [][]string{{"-limit", "5"}, {"--limit", "5"}, {"-limit=5"}, {"--limit=5"}} {
			args := append(append(slices.Clone(entry), "-dry-run", "-json"), form...)
			out, errOut, code := run(args...)
			var s struct {
				Rows  []any `json:"rows"`
				Limit int   `json:"limit"`
			}
			if err := json.Unmarshal([]byte(out), &s); err != nil || code != 0 || len(s.Rows) != 5 || s.Limit != 5 {
				t.Fatalf("%s %v: exit %d, %d rows, limit %d (%v)\n%s", name, form, code, len(s.Rows), s.Limit, err, errOut)
			}
		}
		for _, tt := range []struct{ args, want string }{
			{"-apply -limit none", `memory-backfill: invalid value "none" for flag -limit: accepted: a whole number of rows, 1 or more (see -help)` + "\n"},
			{"--verify-sample=0", `memory-backfill: invalid value "0" for flag -verify-sample: accepted: a whole number of workspaces, 1 or more (see -help)` + "\n"},
			{"-apply -workspace=ws-1", `memory-backfill: invalid value "ws-1" for flag -workspace: not a UUID; accepted: a workspace id such as 0b6f3c1e-5d2a-4c8e-9f1b-3a7d2e4c5b6a (see -help)` + "\n"},
		} {
			out, errOut, code := run(append(slices.Clone(entry), strings.Fields(tt.args)...)...)
			if code != ExitUsage || errOut != tt.want || out != "" {
				t.Fatalf("%s %s: exit %d, stdout %q, stderr %q; want 64 and %q", name, tt.args, code, out, errOut, tt.want)
			}
		}
	}
}
