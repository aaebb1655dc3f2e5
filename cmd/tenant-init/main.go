// Command tenant-init is the PID-1 init of tenant containers: it runs COMMAND as
// the main service, beside further services and gated sidecars, reaps zombies,
// forwards signals, and stops everything in order. See docs/tenant-init.md and --help.
//
// Built with the tag pid1 (the shipped /tenant-init) it parses the boot's
// command line itself and hands everything else to tenant-init-tools, the
// same command tree built without the tag: tools.go says why.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/supervisor"
)

// Set by the Makefile (-ldflags -X).
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	os.Exit(execute(os.Args[1:], envvar.OS))
}

// usageLine is the boot's command line, in --help and in its usage errors.
const usageLine = "tenant-init [flags] [--] COMMAND [ARGS...]"

// versionLine is what `tenant-init version` prints.
func versionLine() string {
	return fmt.Sprintf("tenant-init %s (commit %s, %s)\n", version, commit, runtime.Version())
}

// exitStatus maps an error from the command line or the configuration to the
// documented status.
func exitStatus(err error) int {
	if errors.As(err, new(usageError)) {
		return supervisor.ExitUsage
	}
	if errors.As(err, new(*envvar.Error)) {
		return supervisor.ExitConfig
	}
	if errors.As(err, new(toolsError)) {
		return supervisor.ExitOSError
	}
	return supervisor.ExitUsage // cobra's own complaints are about the command line
}
