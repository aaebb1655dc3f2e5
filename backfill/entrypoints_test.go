package backfill

import (
	"encoding/json"
	"os/exec"
	"reflect"
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
