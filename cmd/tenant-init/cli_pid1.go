//go:build pid1

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/supervisor"
	"golang.org/x/term"
)

// execute runs the command line and returns the exit status. The init parses
// what it runs as PID 1 itself: `[flags] [--] COMMAND [ARGS...]` and
// `version`. Everything else, --help, help, check, backfill and any command
// line it cannot parse, is answered by tenant-init-tools, whose cobra command
// tree answers exactly as a tenant-init with every subcommand would (tools.go
// says why). So what is parsed here must be parsed as cobra and pflag would,
// or left to them: parseBoot gives up rather than guess.
func execute(args []string, env envvar.Lookup) int {
	if len(args) == 1 && args[0] == "version" {
		fmt.Print(versionLine())
		return 0
	}
	given, command, ok := parseBoot(args)
	if !ok {
		err := execTools(args)
		fmt.Fprintln(os.Stderr, "tenant-init: "+err.Error())
		return exitStatus(err)
	}
	if len(command) == 0 {
		fmt.Fprintln(os.Stderr, "tenant-init: missing COMMAND; usage: "+usageLine)
		return supervisor.ExitUsage
	}
	cfg, err := Load(given, env, term.IsTerminal(int(os.Stderr.Fd())))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tenant-init: "+err.Error())
		return exitStatus(err)
	}
	return run(cfg, command)
}

// subcommands are the names cobra would route to a subcommand when first
// among the arguments that are not flags (__complete is its hidden one for
// shell completion).
var subcommands = []string{"version", "check", "backfill", "help", "__complete", "__completeNoDesc"}

// parseBoot reads the boot's flags up to COMMAND as pflag does with
// interspersed flags off: --name=value, --name value, a bool flag alone
// meaning true, `--` ending the flags, the first other argument starting
// COMMAND. ok is false for what only the full command tree may answer: a
// shorthand (-h), --help, an unknown flag, a flag missing its value, a
// subcommand.
func parseBoot(args []string) (given flagValues, command []string, ok bool) {
	given = flagValues{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return given, args[i+1:], true
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			st, known := settingNamed(name)
			if !known {
				return nil, nil, false
			}
			if !hasValue {
				switch {
				case st.kind == "bool":
					value = "true"
				case i+1 < len(args):
					i++
					value = args[i]
				default:
					return nil, nil, false
				}
			}
			given[name] = append(given[name], value)
		case strings.HasPrefix(a, "-") && a != "-":
			return nil, nil, false
		default:
			for _, sub := range subcommands {
				if a == sub {
					return nil, nil, false
				}
			}
			return given, args[i:], true
		}
	}
	return given, nil, true
}

func settingNamed(flag string) (setting, bool) {
	for _, st := range settings {
		if st.flag == flag {
			return st, true
		}
	}
	return setting{}, false
}

// execTools replaces this process with tenant-init-tools from tenant-init's own
// directory, passing args; it returns only on failure.
func execTools(args []string) error {
	self, err := os.Executable()
	if err != nil {
		return toolsError{fmt.Errorf("cannot find %s: where tenant-init runs from is unknown: %w", toolsBinary, err)}
	}
	path := filepath.Join(filepath.Dir(self), toolsBinary)
	err = syscall.Exec(path, append([]string{path}, args...), os.Environ())
	return toolsError{fmt.Errorf("%s (check and backfill run in it; it ships beside tenant-init): %w", path, err)}
}
