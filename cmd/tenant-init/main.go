// Command tenant-init is the PID-1 init of tenant containers: it runs COMMAND as
// the main service, beside further services and gated sidecars, reaps zombies,
// forwards signals, and stops everything in order. See docs/tenant-init.md and --help.
package main

import (
	"errors"
	"fmt"
	"os"

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

// execute runs the command line and returns the exit status: the one a command
// chose, or the one its error calls for, reported on one line.
func execute(args []string, env envvar.Lookup) int {
	status := 0
	root := newRootCommand(env, args, &status)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "tenant-init: "+err.Error())
		return exitStatus(err)
	}
	return status
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
