package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/logging"
	"github.com/agentplatform/tenant-init/supervisor"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

const usageLine = "tenant-init [flags] [--] COMMAND [ARGS...]"

const longHelp = `tenant-init is the PID-1 init of tenant containers. It runs COMMAND as the main
service, and any services declared with --service beside it, each in its own
process group. It reaps every zombie (as PID 1, or as a child subreaper),
forwards the signals it catches to each service's process group (not SIGCHLD,
SIGURG, SIGPROF, a fault signal another process sent, nor a signal it was
started ignoring: docs/tenant-init.md, "Signals"), hands the
terminal to COMMAND so Ctrl-C reaches it, and drops root's privileges first.

The first main service (COMMAND or a --service) to exit ends the container; so do
SIGTERM and SIGINT (a sidecar that dies is restarted instead). The main
services are then stopped with SIGTERM (SIGINT if that ended it), given --grace,
then SIGKILLed; then the sidecars; then, as PID 1, every process left.

Every flag has an environment twin, shown in brackets; a flag beats its variable.

Service declarations (--service, TENANT_INIT_SERVICES):
  ` + serviceForm + `
  e.g. --service 'name=web,dir=/app,cmd=node server.js --port 3000'
  TENANT_INIT_SERVICES='name=web,cmd=./web; name=front,dir=/ui,cmd=npm start'
  Several declarations in the variable are separated by ";" (quote a ";" that is
  part of an argument). The name "main" is COMMAND's.

Exit status:
  the status of the service whose exit ended the container, or COMMAND's when a
  signal ended it; 128+n when that service died of signal n
  126  COMMAND found but not executable    127  COMMAND not found
  64   bad flag, declaration or no COMMAND  78   bad environment value
  69   the memory-plugin sidecar failed (start, gate or crash loop) and is required
  71   an init duty impossible (subreaper, the readiness socket, spawning;
       for check and backfill: tenant-init-tools missing beside tenant-init)
  77   privileges cannot be dropped, or services would run as root without --allow-root`

// newRootCommand builds the command line, args being the whole of it (the
// subcommands that run in tenant-init-tools pass it on). status receives the
// exit status of a run; errors are returned for execute to report.
func newRootCommand(env envvar.Lookup, args []string, status *int) *cobra.Command {
	root := &cobra.Command{
		Use:               usageLine,
		Short:             "PID-1 init for tenant containers",
		Long:              longHelp + memoryHelp,
		Args:              cobra.ArbitraryArgs,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("missing COMMAND; usage: " + usageLine)}
			}
			cfg, err := Load(cmd.Flags(), env, term.IsTerminal(int(os.Stderr.Fd())))
			if err != nil {
				return err
			}
			*status = run(cfg, args)
			return nil
		},
	}
	root.Flags().SetInterspersed(false) // COMMAND's own flags are COMMAND's
	bindFlags(root.Flags())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w; see tenant-init --help", err)}
	})
	root.AddCommand(newVersionCommand())
	root.AddCommand(toolCommands(env, args, status)...)
	return root
}

// run supervises COMMAND, the declared services and, when the operator opted
// in to memory v2, the memory-plugin sidecar, until the container ends.
func run(cfg Config, command []string) int {
	log := logging.New(logging.Format(cfg.LogFormat), cfg.LogLevel, os.Stderr)
	defer log.Sync()
	log.Info("tenant-init starting", logging.String("version", version), logging.String("commit", commit))
	log.Info("memory plugin: "+cfg.Memory.Describe(), logging.Stringer("mode", cfg.Memory.Mode))
	sidecar, gate, err := memorySidecar(cfg.Memory)
	if err != nil {
		log.Error(err.Error())
		return supervisor.ExitOSError
	}
	if gate != nil {
		defer gate.Close()
	}
	return supervisor.Run(supervisor.Config{
		Services:  services(cfg, command, sidecar),
		Grace:     cfg.Grace,
		User:      cfg.User,
		AllowRoot: cfg.AllowRoot,
		Log:       log,
	})
}

// services lists what the container runs: sidecars (started first, whatever
// their place here), COMMAND as "main", then the declared services.
func services(cfg Config, command []string, sidecar *supervisor.Service) []supervisor.Service {
	var svcs []supervisor.Service
	if sidecar != nil {
		svcs = append(svcs, *sidecar)
	}
	svcs = append(svcs, supervisor.Service{Name: "main", Role: supervisor.Main, Argv: command})
	return append(svcs, cfg.Services...)
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "tenant-init %s (commit %s, %s)\n", version, commit, runtime.Version())
		},
	}
}
