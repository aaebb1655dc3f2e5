//go:build !pid1

package main

import (
	"github.com/agentplatform/tenant-init/envvar"
	"github.com/spf13/cobra"
)

// toolCommands are check and backfill themselves.
func toolCommands(env envvar.Lookup, _ []string, status *int) []*cobra.Command {
	return []*cobra.Command{newCheckCommand(env, status), newBackfillCommand(env, status)}
}
