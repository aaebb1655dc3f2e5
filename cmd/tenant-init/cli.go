//go:build !pid1

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/agentplatform/tenant-init/cutover"
	"github.com/agentplatform/tenant-init/envvar"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

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

// memoryHelp is the --help section on the cutover variables; the section
// "Memory v2 cutover" of docs/tenant-init.md has the full rules.
var memoryHelp = `

Memory v2 cutover (docs/tenant-init.md, "Memory v2 cutover"): the memory-plugin sidecar starts
only when MEMORY_V2_CUTOVER=true or MEMORY_PLUGIN_URL is a loopback URL, unless
MEMORY_PLUGIN_DISABLE=1. It starts first; the main services start once it is
healthy (log line "memory-plugin: sidecar healthy") and get MEMORY_PLUGIN_URL.
  MEMORY_V2_CUTOVER            true, false, 1 or 0 (false)
  MEMORY_PLUGIN_URL            where the main services reach the plugin; a host off
                               loopback is an external plugin: no sidecar, the URL
                               passed through
  MEMORY_PLUGIN_DISABLE        1 = never start the sidecar (0)
  MEMORY_PLUGIN_DATABASE_URL   the sidecar's database (DATABASE_URL)
  MEMORY_PLUGIN_LISTEN_ADDR    host:port the sidecar listens on (` + cutover.DefaultListenAddr + `, or
                               the loopback MEMORY_PLUGIN_URL's)
  MEMORY_PLUGIN_BIN            the sidecar's executable (` + cutover.DefaultBin + `)
  MEMORY_PLUGIN_GATE_TIMEOUT   how long the main services wait for it (` + cutover.DefaultGateTimeout.String() + `)
  MEMORY_PLUGIN_REQUIRED       false: if it fails, start the main services with
                               MEMORY_PLUGIN_URL empty (memory off) instead of
                               exiting 69 (true)
  MEMORY_PLUGIN_RESTART_LIMIT  after the boot a dead sidecar is restarted (about 1s
                               doubling to 30s) and gated again; after this many
                               failed restarts in a row it is given up on as above (` + strconv.Itoa(cutover.DefaultRestartLimit) + `)`

// execute runs the command line and returns the exit status: the one a command
// chose, or the one its error calls for, reported on one line.
func execute(args []string, env envvar.Lookup) int {
	status := 0
	root := newRootCommand(env, &status)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "tenant-init: "+err.Error())
		return exitStatus(err)
	}
	return status
}

// newRootCommand builds the command line. status receives the exit status of
// a run; errors are returned for execute to report.
func newRootCommand(env envvar.Lookup, status *int) *cobra.Command {
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
			cfg, err := Load(flagsGiven(cmd.Flags()), env, term.IsTerminal(int(os.Stderr.Fd())))
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
	root.AddCommand(newVersionCommand(), newCheckCommand(env, status), newBackfillCommand(env, status))
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprint(cmd.OutOrStdout(), versionLine())
		},
	}
}

// bindFlags declares every setting's flag on fs. Values are kept as text and
// parsed by Load, so that flags and variables share one parser and its messages.
func bindFlags(fs *pflag.FlagSet) {
	for _, st := range settings {
		usage := st.usage + " [$" + st.env + "]"
		var v pflag.Value = &textValue{kind: st.kind, text: st.def}
		if st == servicesSetting {
			v = &listValue{kind: st.kind}
		}
		f := fs.VarPF(v, st.flag, "", usage)
		if st.kind == "bool" {
			f.NoOptDefVal = "true"
		}
	}
}

// flagsGiven reads the settings' flags from fs as Load takes them.
func flagsGiven(fs *pflag.FlagSet) flagValues {
	given := flagValues{}
	for _, st := range settings {
		f := fs.Lookup(st.flag)
		switch {
		case f == nil || !f.Changed:
		case st == servicesSetting:
			given[st.flag] = f.Value.(*listValue).values
		default:
			given[st.flag] = []string{f.Value.String()}
		}
	}
	return given
}

// textValue holds a flag's text for Load to parse.
type textValue struct{ kind, text string }

func (v *textValue) Set(s string) error { v.text = s; return nil }
func (v *textValue) String() string     { return v.text }
func (v *textValue) Type() string       { return v.kind }

// listValue holds every occurrence of a repeatable flag, commas and all.
type listValue struct {
	kind   string
	values []string
}

func (v *listValue) Set(s string) error { v.values = append(v.values, s); return nil }
func (v *listValue) String() string     { return "" }
func (v *listValue) Type() string       { return v.kind }
