package backfill

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentplatform/tenant-init/envvar"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Mode is what a run does: exactly one per run.
type Mode string

// Modes, named as their flags.
const (
	DryRun Mode = "dry-run"
	Apply  Mode = "apply"
	Verify Mode = "verify"
)

// Flag bounds and defaults; the batch bound is the plugin's batch limit.
const (
	DefaultBatchSize   = 500
	MaxBatchSize       = 500
	DefaultConcurrency = 4
	MaxConcurrency     = 32
	DefaultPluginURL   = "http://127.0.0.1:9100"
	DefaultProgress    = 5 * time.Second
)

// Config is one run's settings, from flags and the environment.
type Config struct {
	Mode        Mode
	Workspace   string // a lower-case UUID, or "" for every workspace
	BatchSize   int
	Concurrency int
	JSON        bool
	// Limit bounds the rows a run copies (apply: rows the plugin does not
	// already hold as they are), lists (dry run) or checks (verify); 0: no bound.
	Limit int
	// VerifySample is how many randomly chosen workspaces -verify checks; 0:
	// every row.
	VerifySample int

	DatabaseURL      string
	PluginURL        *url.URL
	PluginToken      string
	ProgressInterval time.Duration // between progress lines when stderr is not a terminal
}

// usagef words a bad command line; Main exits 64 for every parseArgs error.
func usagef(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// usage is the -help text: every flag, variable and exit code.
const usage = `Usage: memory-backfill -dry-run|-apply|-verify [flags]

Copies the legacy (v1) agent_memories of a tenant into the memory plugin, keeping
each memory's id and, where the plugin advertises created_at and metadata, its
created_at and v1 origin. Run -dry-run, then -apply, then -verify.
Flags take one or two dashes and a value after a space or "=" (-limit 500,
--limit=500).

Modes (exactly one):
  -dry-run          read only: print where every row would go and every row that
                    would be skipped; nothing is written, the plugin is not called
  -apply            copy the rows through the plugin (re-runs never duplicate)
  -verify           check every row in the plugin by id, namespace and content
                    (by lookup, or through search when the plugin has no lookup);
                    list missing and mismatched rows

Flags:
  -workspace UUID   only the memories of this workspace
  -limit N          at most N rows this run, in id order: -apply copies N rows the
                    plugin does not already hold as they are (a later run
                    continues with the next ones); -dry-run lists, -verify checks
                    the first N; skipped rows are reported and not counted
  -verify-sample N  -verify checks every row of N randomly chosen workspaces
                    instead of every row (alone, it implies -verify)
  -batch-size N     rows per page, plugin batch and lookup (1..500, default 500)
  -concurrency N    plugin requests in flight (1..32, default 4)
  -json             print one JSON summary object on stdout instead of lines (a dry
                    run lists every row under "rows"); the summary line goes to stderr

Plugins: one that advertises batch, lookup, created_at and metadata (ours) gets
batches and keeps everything; one with only the contract's capabilities (the
platform's own) gets one commit per row after a PUT of its namespace, is verified
through search, and cannot keep created_at and metadata (the summary says so).

Environment:
  DATABASE_URL                       the platform database with the v1 tables (required)
  MEMORY_PLUGIN_URL                  the plugin (default http://127.0.0.1:9100)
  MEMORY_PLUGIN_TOKEN                sent as "Authorization: Bearer <token>" if set
  MEMORY_BACKFILL_PROGRESS_INTERVAL  between progress lines when stderr is not a
                                     terminal (default 5s)

Exit status:
  0   done: nothing failed (apply), nothing missing or mismatched (verify)
  1   rows failed (apply), rows missing or mismatched (verify), or the run was
      interrupted or lost the database or the plugin half-way
  64  usage error
  69  the database or the plugin is unavailable at the start (unreachable, plugin
      not healthy, v1 tables missing)
  78  bad environment value, or a MEMORY_PLUGIN_TOKEN the plugin refuses
`

// parseArgs reads the command line (without the program name). It returns
// flag.ErrHelp for -h/-help.
func parseArgs(args []string) (Config, error) {
	cfg := Config{BatchSize: DefaultBatchSize, Concurrency: DefaultConcurrency}
	fs := flag.NewFlagSet("memory-backfill", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are ours to word, on one line
	var dry, apply, verify bool
	fs.BoolVar(&dry, "dry-run", false, "")
	fs.BoolVar(&apply, "apply", false, "")
	fs.BoolVar(&verify, "verify", false, "")
	fs.Func("workspace", "", func(s string) error {
		id, ok := parseUUID(s)
		if !ok {
			return errors.New("not a UUID; accepted: a workspace id such as 0b6f3c1e-5d2a-4c8e-9f1b-3a7d2e4c5b6a")
		}
		cfg.Workspace = id
		return nil
	})
	countFlag(fs, &cfg.BatchSize, "batch-size", fmt.Sprintf("a whole number from 1 to %d", MaxBatchSize), 1, MaxBatchSize)
	countFlag(fs, &cfg.Concurrency, "concurrency", fmt.Sprintf("a whole number from 1 to %d", MaxConcurrency), 1, MaxConcurrency)
	countFlag(fs, &cfg.Limit, "limit", "a whole number of rows, 1 or more", 1, 0)
	countFlag(fs, &cfg.VerifySample, "verify-sample", "a whole number of workspaces, 1 or more", 1, 0)
	fs.BoolVar(&cfg.JSON, "json", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return cfg, usagef("unexpected argument %q: modes and values are flags (-apply, -workspace UUID)", fs.Arg(0))
	}
	if cfg.VerifySample > 0 && !dry && !apply {
		verify = true // -verify-sample names its mode, as the platform's backfill takes it
	}
	var modes []string
	for _, m := range []struct {
		set  bool
		mode Mode
	}{{dry, DryRun}, {apply, Apply}, {verify, Verify}} {
		if m.set {
			cfg.Mode = m.mode
			modes = append(modes, "-"+string(m.mode))
		}
	}
	switch len(modes) {
	case 0:
		return cfg, usagef("exactly one of -dry-run, -apply, -verify is required")
	case 1:
	default:
		return cfg, usagef("exactly one of -dry-run, -apply, -verify is required, got %s", strings.Join(modes, " and "))
	}
	if cfg.VerifySample > 0 && cfg.Mode != Verify {
		return cfg, usagef("-verify-sample goes with -verify only, got -%s; accepted: -verify -verify-sample N, or -verify-sample N alone", cfg.Mode)
	}
	if cfg.VerifySample > 0 && cfg.Workspace != "" {
		return cfg, usagef("-verify-sample and -workspace exclude each other; accepted: -verify -workspace UUID, or -verify -verify-sample N")
	}
	return cfg, nil
}

// countFlag defines the whole-number flag name, from lo to hi (hi 0: no upper
// bound), keeping dst's value as the default. A bad value is refused while
// parsing, in one line naming the flag and accepted, the accepted form.
func countFlag(fs *flag.FlagSet, dst *int, name, accepted string, lo, hi int) {
	fs.Func(name, "", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || (hi > 0 && n > hi) {
			return errors.New("accepted: " + accepted)
		}
		*dst = n
		return nil
	})
}

// readEnv reads the environment into cfg. Every error is an *envvar.Error.
func readEnv(cfg *Config, env envvar.Lookup) error {
	cfg.DatabaseURL = env.String("DATABASE_URL", "")
	if cfg.DatabaseURL == "" {
		return &envvar.Error{Name: "DATABASE_URL", Reason: "it names the platform database holding the v1 tables",
			Accepted: "a PostgreSQL URL such as postgres://user:password@host:5432/platform"}
	}
	if _, err := pgxpool.ParseConfig(cfg.DatabaseURL); err != nil {
		// pgx redacts the password in its message; the value itself is not echoed.
		return &envvar.Error{Name: "DATABASE_URL", Value: "(redacted)", Reason: err.Error(),
			Accepted: "a PostgreSQL URL such as postgres://user:password@host:5432/platform"}
	}
	raw := env.String("MEMORY_PLUGIN_URL", DefaultPluginURL)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return &envvar.Error{Name: "MEMORY_PLUGIN_URL", Value: raw,
			Accepted: "an http:// or https:// URL without credentials or query, such as " + DefaultPluginURL}
	}
	cfg.PluginURL = u
	cfg.PluginToken = env.String("MEMORY_PLUGIN_TOKEN", "")
	for _, r := range cfg.PluginToken {
		if r <= ' ' || r > '~' {
			return &envvar.Error{Name: "MEMORY_PLUGIN_TOKEN", Value: "(redacted)", Reason: "contains a space, control or non-ASCII character",
				Accepted: "printable ASCII characters without spaces"}
		}
	}
	cfg.ProgressInterval, err = env.Duration("MEMORY_BACKFILL_PROGRESS_INTERVAL", DefaultProgress)
	return err
}

// parseUUID accepts the canonical 8-4-4-4-12 hex form in either case and
// returns it in lower case, as PostgreSQL prints uuids.
func parseUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return "", false
		}
	}
	return strings.ToLower(s), true
}
