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

const (
	checkUse   = "check [--json] [--timeout 5s] [flags] [-- COMMAND [ARGS...]]"
	checkShort = "Preflight the memory-v2 cutover: would the boot succeed here? Changes nothing"
)

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
	cfg, err := Load(flagsGiven(cmd.Flags()), env, false)
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
