package main

// The subcommands check and backfill link the preflight, the backfill and
// their PostgreSQL driver: nearly half of a tenant-init that has them all.
// PID 1 pays for what it links at every start (package initialisation, pages
// of a larger binary) and for as long as it runs (resident memory), so the
// shipped tenant-init is built with the tag pid1: its check and backfill exec
// tenant-init-tools, the same command tree built without the tag and shipped
// beside it, with the whole command line. Built without the tag (go build,
// go install), tenant-init has every subcommand itself.

// toolsBinary is the companion's file name, looked up in tenant-init's own
// directory.
const toolsBinary = "tenant-init-tools"

// The subcommands' usage lines, the same in both builds so --help is.
const (
	checkUse      = "check [--json] [--timeout 5s] [flags] [-- COMMAND [ARGS...]]"
	checkShort    = "Preflight the memory-v2 cutover: would the boot succeed here? Changes nothing"
	backfillUse   = "backfill -dry-run | -apply | -verify [flags]"
	backfillShort = "Copy legacy (v1) memories into the memory plugin; the same as /memory-backfill (see backfill -help)"
)

// toolsError is a missing or unusable tenant-init-tools: exit 71.
type toolsError struct{ error }

func (e toolsError) Unwrap() error { return e.error }
