package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/agentplatform/tenant-init/internal/inittest"
	"github.com/agentplatform/tenant-init/internal/pgtest"
)

// tenantInit is the binary under test, built once by TestMain as it ships
// (CGO_ENABLED=0, no race detector, tag pid1, tenant-init-tools beside it for
// check and backfill); sidecarBin is testdata/sidecar, the memory-plugin
// stand-in, built alike.
var tenantInit, sidecarBin string

// helperEnv selects a helper service: the test binary re-executed (see helpers_test.go).
const helperEnv = "TENANT_INIT_TEST_HELPER"

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		os.Exit(runHelper(name, os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "tenant-init-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		// Readable by the unprivileged users some tests start it as.
		if err := os.Chmod(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		tenantInit = filepath.Join(dir, "tenant-init")
		sidecarBin = filepath.Join(dir, "memory-plugin")
		for _, b := range [][]string{
			{"-o", tenantInit, "-tags", "pid1", "-ldflags", "-X main.version=test -X main.commit=abc123", "."},
			{"-o", filepath.Join(dir, toolsBinary), "-ldflags", "-X main.version=test -X main.commit=abc123", "."},
			{"-o", sidecarBin, "github.com/agentplatform/tenant-init/testdata/sidecar"},
		} {
			build := exec.Command("go", append([]string{"build"}, b...)...)
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b[1], err, out)
				return 1
			}
		}
		// The tests' environment is a tenant's that did not opt in to memory
		// v2: each test sets the cutover variables it is about.
		for _, name := range cutoverVariables {
			os.Unsetenv(name)
		}
		return pgtest.Run(m) // also removes the clusters the check tests start
	}()
	os.Exit(code)
}

// helper is the command line of a helper service.
func helper(name string, args ...string) []string {
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return append([]string{"env", helperEnv + "=" + name, inittest.NoRaceExitDelay, self}, args...)
}

// start runs tenant-init with args in mode.
func start(t *testing.T, mode inittest.Mode, opts inittest.Options, args ...string) *inittest.Init {
	t.Helper()
	return inittest.Start(t, mode, opts, append([]string{tenantInit}, args...)...)
}

// forEachMode runs test as PID 1 and as a subreaper.
func forEachMode(t *testing.T, test func(t *testing.T, mode inittest.Mode)) {
	for _, mode := range inittest.Modes {
		t.Run(mode.String(), func(t *testing.T) { test(t, mode) })
	}
}
