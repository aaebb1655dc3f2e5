//go:build !pid1

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/preflight"
	"github.com/spf13/cobra"
)

const checkHelp = `check runs, before an operator flips memory-v2 cutover, every check that applies
to this environment and changes nothing: no CREATE EXTENSION, no migration, no
listening beyond a momentary bind. Run it where the tenant runs:

  docker exec <tenant> /tenant-init check
  docker run --rm --env-file tenant.env --entrypoint /tenant-init <image> check -- /app/server

It reads the same variables and flags as the boot (see tenant-init --help and
docs/check.md), through the same functions. Checks, by stable id:
  env              the cutover variables parse and agree; what the boot would do
  user             the configured user resolves and the privilege drop would succeed
  sidecar-binary   the sidecar binary exists and that user may execute it
  command          COMMAND (after --) resolves on PATH and that user may execute it
  database         the plugin's database answers within --timeout; its version
  pgvector         the vector extension is installed, or available and creatable by this role
  listen           the sidecar's listen address is free (or held by a healthy plugin)
  external-plugin  an external MEMORY_PLUGIN_URL answers GET /v1/health with 200
Checks that do not apply are shown as skipped, with the reason.

Exit status: 0 nothing failed, 1 a check failed, 78 the environment itself is
invalid (the boot would exit 78 too), 64 bad flags.`

// newCheckCommand builds `tenant-init check`, the preflight of the operator
// runbook. It binds the boot's own flags so `check --user app` checks what
// `tenant-init --user app` would do.
func newCheckCommand(env envvar.Lookup, status *int) *cobra.Command {
	var (
		asJSON  bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   checkUse,
		Short: checkShort,
		Long:  checkHelp,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, command []string) error {
			if timeout <= 0 {
				return usageError{fmt.Errorf("--timeout %s: must be positive, a Go duration such as 5s", timeout)}
			}
			report, code, err := check(cmd.Context(), cmd, env, command, timeout)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				err = report.WriteJSON(out)
			} else {
				err = report.WriteText(out)
			}
			*status = code
			return err
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON object: {\"status\": ..., \"checks\": [{\"id\", \"status\", \"detail\", \"hint\"}]}")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "bound on each check that talks to the network")
	bindFlags(cmd.Flags())
	return cmd
}

// check loads the boot's configuration and runs the preflight on it. An
// invalid environment is a report too (the env check failing), with exit 78.
func check(ctx context.Context, cmd *cobra.Command, env envvar.Lookup, command []string, timeout time.Duration) (preflight.Report, int, error) {
	cfg, err := Load(cmd.Flags(), env, false)
	if errors.As(err, new(usageError)) {
		return preflight.Report{}, 0, err
	}
	if err != nil {
		return preflight.InvalidEnvironment(err), exitStatus(err), nil
	}
	report := preflight.Run(ctx, preflight.Config{
		Memory:    cfg.Memory,
		User:      cfg.User,
		AllowRoot: cfg.AllowRoot,
		Command:   command,
		PATH:      env.String("PATH", ""),
		Timeout:   timeout,
	})
	if report.Status == preflight.Fail {
		return report, 1, nil
	}
	return report, 0, nil
}
