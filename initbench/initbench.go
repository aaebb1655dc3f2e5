// Package initbench measures tenant-init against tini side by side, in one run,
// on the costs an init adds to every container: start-up (`INIT -- true`), the
// latency of a forwarded signal, resident memory while a service runs, binary
// size, and how late the sidecar gate notices a polled sidecar's readiness. Its
// benchmark (bench_test.go, `make bench-init`) prints each figure beside tini's
// and the goal of issue 13; docs/benchmarks.md records the results.
//
// Fairness: both inits run the same way (as PID 1 of a fresh PID namespace, or
// as a subreaper), with the same stdout and stderr (pipes that are drained),
// interleaved sample by sample so that the shared machine's load falls on both
// alike. Root is needed (PID namespaces).
package initbench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Mode is how an init runs.
type Mode int

const (
	PID1      Mode = iota // PID 1 of a fresh PID namespace, as in a container
	Subreaper             // an ordinary child that makes itself a child subreaper
)

func (m Mode) String() string {
	if m == PID1 {
		return "PID 1"
	}
	return "subreaper"
}

// An Init is an init under measurement.
type Init struct {
	Name string
	Path string
	// Argv returns the command line that runs service under the init in mode.
	Argv func(mode Mode, service []string) []string
}

// Tini finds Debian's tini on PATH, or says how to install it. The static
// build (tini-static, in the same package) is compared for size only.
func Tini() (Init, error) {
	path, err := exec.LookPath("tini")
	if err != nil {
		return Init{}, fmt.Errorf("tini is not installed, and the benchmark compares against it: apt-get install tini (%w)", err)
	}
	return Init{Name: "tini", Path: path, Argv: func(mode Mode, service []string) []string {
		argv := []string{path}
		if mode == Subreaper {
			argv = append(argv, "-s")
		}
		return append(append(argv, "--"), service...)
	}}, nil
}

// TenantInit is the tenant-init binary at path. --allow-root: the benchmark runs
// as root and measures the init, not the privilege drop.
func TenantInit(path string) Init {
	return Init{Name: "tenant-init", Path: path, Argv: func(_ Mode, service []string) []string {
		return append([]string{path, "--allow-root", "--"}, service...)
	}}
}

// GoFloor builds initbench/testdata/goinit into dir as tenant-init is built
// (static, stripped) and returns it: the least a Go init does that
// tenant-init does too, measured beside both to show what of tenant-init's
// distance to tini is Go's own (see goinit's documentation).
func GoFloor(dir string) (Init, error) {
	path := filepath.Join(dir, "goinit")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", path, "./testdata/goinit")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return Init{}, fmt.Errorf("build the Go floor (initbench/testdata/goinit): %v\n%s", err, out)
	}
	return Init{Name: "Go floor", Path: path, Argv: func(_ Mode, service []string) []string {
		return append([]string{path, "--"}, service...)
	}}, nil
}

// Size is the size of the file at path in bytes.
func Size(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
