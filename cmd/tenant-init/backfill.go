//go:build !pid1

package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/agentplatform/tenant-init/backfill"
	"github.com/agentplatform/tenant-init/envvar"
	"github.com/spf13/cobra"
)

const (
	backfillUse   = "backfill -dry-run | -apply | -verify [flags]"
	backfillShort = "Copy legacy (v1) memories into the memory plugin; the same as /memory-backfill (see backfill -help)"
)

// newBackfillCommand builds `tenant-init backfill`, the same program as
// /memory-backfill (package backfill), for operators who reach the tenant only
// through `docker exec <tenant> /tenant-init ...`. Its flags are backfill's
// own, in single- or double-dash form (-dry-run, --dry-run), so cobra passes
// the arguments through untouched.
func newBackfillCommand(env envvar.Lookup, status *int) *cobra.Command {
	return &cobra.Command{
		Use:                backfillUse,
		Short:              backfillShort,
		DisableFlagParsing: true,
		Run: func(cmd *cobra.Command, args []string) {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			*status = backfill.Main(ctx, args, env, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}
