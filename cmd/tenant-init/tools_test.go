package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The shipped tenant-init runs check and backfill in tenant-init-tools; the
// check and backfill tests exercise that path. Without the companion they
// fail with one line naming it and exit 71, never a stack trace.
func TestCheckAndBackfillWithoutTheirCompanionSayWhatIsMissing(t *testing.T) {
	dir := t.TempDir()
	alone := filepath.Join(dir, "tenant-init")
	b, err := os.ReadFile(tenantInit)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check"}, {"check", "--help"}, {"backfill", "-verify"}, {"help", "check"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cmd := exec.Command(alone, args...)
			out, _ := cmd.CombinedOutput()
			code := cmd.ProcessState.ExitCode()
			want := "tenant-init: " + filepath.Join(dir, toolsBinary) + " (check and backfill run in it; it ships beside tenant-init): no such file or directory"
			if code != 71 || strings.TrimSpace(string(out)) != want {
				t.Errorf("exit %d, output:\n%s\nwant exit 71 and the one line:\n%s", code, out, want)
			}
		})
	}
}

// The shipped tenant-init's help lists check and backfill as the full one's
// does, and their own help comes from the companion.
func TestHelpIsTheSameWithTheCompanion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"check", "--help"}, {"help", "check"}, {"backfill", "-help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			lean, _ := exec.Command(tenantInit, args...).CombinedOutput()
			full, _ := exec.Command(filepath.Join(filepath.Dir(tenantInit), toolsBinary), args...).CombinedOutput()
			if string(lean) != string(full) || len(lean) == 0 {
				t.Errorf("tenant-init %v printed:\n%s\nthe full tenant-init:\n%s", args, lean, full)
			}
		})
	}
}
