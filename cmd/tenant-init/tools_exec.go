//go:build pid1

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/agentplatform/tenant-init/envvar"
	"github.com/spf13/cobra"
)

// toolCommands are check and backfill as stand-ins that exec tenant-init-tools
// with the whole command line args, flags, --help and all, so that it parses
// and answers exactly as a tenant-init with every subcommand would.
func toolCommands(_ envvar.Lookup, args []string, _ *int) []*cobra.Command {
	return []*cobra.Command{execTool(checkUse, checkShort, args), execTool(backfillUse, backfillShort, args)}
}

func execTool(use, short string, args []string) *cobra.Command {
	cmd := &cobra.Command{
		Use:                use,
		Short:              short,
		DisableFlagParsing: true, // the companion parses them, --help included
		RunE:               func(*cobra.Command, []string) error { return execTools(args) },
	}
	// `tenant-init help check` too.
	cmd.SetHelpFunc(func(c *cobra.Command, _ []string) {
		err := execTools(args)
		fmt.Fprintln(c.ErrOrStderr(), "tenant-init: "+err.Error())
		os.Exit(exitStatus(err))
	})
	return cmd
}

// execTools replaces this process with tenant-init-tools from tenant-init's own
// directory; it returns only on failure.
func execTools(args []string) error {
	self, err := os.Executable()
	if err != nil {
		return toolsError{fmt.Errorf("cannot find %s: where tenant-init runs from is unknown: %w", toolsBinary, err)}
	}
	path := filepath.Join(filepath.Dir(self), toolsBinary)
	err = syscall.Exec(path, append([]string{path}, args...), os.Environ())
	return toolsError{fmt.Errorf("%s (check and backfill run in it; it ships beside tenant-init): %w", path, err)}
}
