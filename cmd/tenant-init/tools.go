package main

// The subcommands check and backfill link the preflight, the backfill and
// their PostgreSQL driver: nearly half of a tenant-init that has them all; the
// command tree (cobra, pflag, text/template) is more again. PID 1 pays for
// what it links at every start (package initialisation, pages of a larger
// binary) and for as long as it runs (resident memory), so the shipped
// tenant-init is built with the tag pid1: it parses the boot's command line
// (flags, COMMAND) and `version` itself (cli_pid1.go), and execs
// tenant-init-tools, the same command tree built without the tag and shipped
// beside it, with the whole command line for anything else: check, backfill,
// --help, help, and a command line with an error in it, which the full tree
// answers as it always did. Built without the tag (go build, go install),
// tenant-init has every subcommand itself.

// toolsBinary is the companion's file name, looked up in tenant-init's own
// directory.
const toolsBinary = "tenant-init-tools"

// toolsError is a missing or unusable tenant-init-tools: exit 71.
type toolsError struct{ error }

func (e toolsError) Unwrap() error { return e.error }

// checkHelp is check's --help text (linked in tenant-init-tools only; here so
// that the tests of either build can read it).
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
  database-settings  warns (never fails) when shared_buffers is below 256 MB or below
                   the memory tables and indexes, which slows recall several-fold
  listen           the sidecar's listen address is free (or held by a healthy plugin)
  external-plugin  an external MEMORY_PLUGIN_URL answers GET /v1/health with 200
Checks that do not apply are shown as skipped, with the reason. A check's
status is pass, fail, skip or warn; a warning does not fail the verdict.

Exit status: 0 nothing failed (warnings included), 1 a check failed, 78 the environment itself is
invalid (the boot would exit 78 too), 64 bad flags.`
