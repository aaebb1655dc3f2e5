// Package backfill copies a tenant's legacy (v1) agent memories into the memory
// plugin: dry run, apply and verify. It reads the v1 tables read-only, maps each
// row to its v2 namespace (mapping.go), and writes through the plugin's HTTP API
// only (client.go), so the plugin stays the one owner of its storage.
//
// Main is the one implementation behind both entry points, cmd/memory-backfill
// and `tenant-init backfill`.
package backfill

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/agentplatform/tenant-init/envvar"
)

// Exit statuses of Main (sysexits where one fits); documented in -help and
// docs/memory-backfill.md.
const (
	ExitOK          = 0
	ExitFailed      = 1  // rows failed, missing or mismatched, or the run stopped half-way
	ExitUsage       = 64 // bad command line
	ExitUnavailable = 69 // database or plugin unavailable at the start
	ExitConfig      = 78 // bad environment value
)

// Main runs memory-backfill with args (the command line without the program
// name) and the environment env, and returns the exit status. The report goes
// to stdout, progress and errors to stderr.
func Main(ctx context.Context, args []string, env envvar.Lookup, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "memory-backfill: %v (see -help)\n", err)
		return ExitUsage
	}
	if err := readEnv(&cfg, env); err != nil {
		fmt.Fprintf(stderr, "memory-backfill: %v\n", err)
		return ExitConfig
	}
	sum, err := run(ctx, cfg, stdout, stderr)
	var envErr *envvar.Error
	if errors.As(err, &envErr) {
		fmt.Fprintf(stderr, "memory-backfill: %v\n", err)
		return ExitConfig
	}
	if err != nil {
		// One line: pgx words a failed connection as one line per address tried.
		msg := oneLine.Replace(err.Error())
		fmt.Fprintf(stderr, "memory-backfill: %s\n", msg)
		return ExitUnavailable
	}
	if cfg.JSON {
		// stdout holds only the JSON document; whoever watches gets the line.
		fmt.Fprintln(stderr, sum.Line())
	}
	if sum.Failed > 0 || sum.Error != "" {
		return ExitFailed
	}
	return ExitOK
}

var oneLine = strings.NewReplacer(":\n\t", ": ", "\n\t", "; ", "\n", "; ")

// run prepares a run — source, tree, plugin — and carries it out. An error
// means the run could not start (exit 69, or 78 for an *envvar.Error); how the
// run went is in the Summary.
func run(ctx context.Context, cfg Config, stdout, stderr io.Writer) (*Summary, error) {
	src, err := OpenSource(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("source database: %w", err)
	}
	defer src.Close()
	ws, err := src.Workspaces(ctx)
	if err != nil {
		return nil, fmt.Errorf("source database: %w", err)
	}
	r := &runner{cfg: cfg, src: src, tree: NewTree(ws)}
	if cfg.Workspace != "" {
		if _, ok := r.tree.nodes[cfg.Workspace]; !ok {
			fmt.Fprintf(stderr, "memory-backfill: note: workspace %s is not in workspaces; its rows, if any, are reported as %s\n", cfg.Workspace, ReasonWorkspaceMissing)
		}
	}
	if cfg.Mode != DryRun {
		if err := r.connectPlugin(ctx); err != nil {
			return nil, err
		}
	}
	total, err := src.Count(ctx, cfg.Workspace)
	if err != nil {
		return nil, fmt.Errorf("source database: %w", err)
	}
	r.rep = newReporter(cfg.Mode, cfg.JSON, stdout)
	r.rep.sum.Columns = src.Columns()
	r.rep.sum.WritePath = r.writePath()
	prog := startProgress(r.rep, total, stderr, cfg.ProgressInterval)
	var runErr error
	switch cfg.Mode {
	case DryRun:
		runErr = r.dryRun(ctx)
	case Apply:
		runErr = r.pipeline(ctx, r.write)
	case Verify:
		runErr = r.pipeline(ctx, r.check)
	}
	prog.stop()
	if runErr != nil && ctx.Err() != nil {
		runErr = fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	return r.rep.finish(runErr), nil
}

// connectPlugin checks, once, that the plugin is healthy and has what the mode
// needs, and picks the write path.
func (r *runner) connectPlugin(ctx context.Context) error {
	r.client = NewClient(r.cfg.PluginURL, r.cfg.PluginToken)
	h, err := r.client.Health(ctx)
	if err != nil {
		return fmt.Errorf("memory plugin at %s is not available: %w (start it, or set MEMORY_PLUGIN_URL)", r.cfg.PluginURL.Redacted(), err)
	}
	need := []string{"lookup"}
	why := "-verify needs to read memories back by id"
	if r.cfg.Mode == Apply {
		need = []string{"created_at", "metadata"}
		why = "-apply needs to keep each memory's created_at and v1 origin"
	}
	for _, c := range need {
		if !h.Has(c) {
			return fmt.Errorf("memory plugin at %s does not advertise the %q capability, which %s; it advertises: %s",
				r.cfg.PluginURL.Redacted(), c, why, strings.Join(h.Capabilities, ", "))
		}
	}
	r.batch = h.Has("batch")
	if h.Has("lookup") {
		// /v1/health is open, so a wrong token would show only at the first
		// write, as one failure per row: ask once for nothing instead.
		_, err := r.client.Lookup(ctx, []string{"00000000-0000-0000-0000-000000000000"})
		var pe *PluginError
		if errors.As(err, &pe) && pe.Status == http.StatusUnauthorized {
			return &envvar.Error{Name: "MEMORY_PLUGIN_TOKEN", Value: "(redacted)", Reason: "the plugin refused it: " + pe.Error(),
				Accepted: "the token the plugin was started with"}
		}
		if err != nil {
			return fmt.Errorf("memory plugin at %s is not available: %w", r.cfg.PluginURL.Redacted(), err)
		}
	}
	return nil
}
