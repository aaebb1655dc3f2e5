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
		r.scope = []string{cfg.Workspace}
		if _, ok := r.tree.nodes[cfg.Workspace]; !ok {
			fmt.Fprintf(stderr, "memory-backfill: note: workspace %s is not in workspaces; its rows, if any, are reported as %s\n", cfg.Workspace, ReasonWorkspaceMissing)
		}
	}
	var sampleOf int
	if cfg.VerifySample > 0 {
		if r.scope, sampleOf, err = src.SampleWorkspaces(ctx, cfg.VerifySample); err != nil {
			return nil, fmt.Errorf("source database: %w", err)
		}
	}
	if cfg.Mode != DryRun {
		if err := r.connectPlugin(ctx); err != nil {
			return nil, err
		}
		if lost := r.target.cannotKeep(); cfg.Mode == Apply && len(lost) > 0 {
			fmt.Fprintf(stderr, "memory-backfill: note: the plugin does not advertise %s: the copies cannot keep it (see cannot_keep in the summary)\n", strings.Join(lost, " or "))
		}
	}
	total, err := src.Count(ctx, r.scope)
	if err != nil {
		return nil, fmt.Errorf("source database: %w", err)
	}
	r.rep = newReporter(cfg.Mode, cfg.JSON, stdout)
	r.rep.sum.Columns = src.Columns()
	r.rep.sum.WritePath = r.writePath()
	r.rep.sum.Limit = cfg.Limit
	if cfg.VerifySample > 0 {
		r.rep.sum.Sample, r.rep.sum.SampleOf = r.scope, sampleOf
	}
	if cfg.Mode == Apply {
		r.rep.sum.CannotKeep = r.target.cannotKeep()
	}
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

// probeNamespace is searched once at the start when the plugin has no lookup:
// a valid name no memory lives in.
const probeNamespace = "custom:memory-backfill-probe"

// connectPlugin checks, once, that the plugin is healthy and takes our token,
// and records what it advertises: the extensions pick the write and read paths
// (target.go); a plugin with only the contract's capabilities is served too.
func (r *runner) connectPlugin(ctx context.Context) error {
	r.client = NewClient(r.cfg.PluginURL, r.cfg.PluginToken)
	h, err := r.client.Health(ctx)
	if err != nil {
		return fmt.Errorf("memory plugin at %s is not available: %w (start it, or set MEMORY_PLUGIN_URL)", r.cfg.PluginURL.Redacted(), err)
	}
	r.target = newTarget(h)
	// /v1/health is open, so a wrong token would show only at the first
	// write, as one failure per row: ask once for nothing instead.
	if r.target.lookup {
		_, err = r.client.Lookup(ctx, []string{"00000000-0000-0000-0000-000000000000"})
	} else {
		_, err = r.client.Search(ctx, SearchRequest{Namespaces: []string{probeNamespace}, Limit: 1})
	}
	var pe *PluginError
	if errors.As(err, &pe) && pe.Status == http.StatusUnauthorized {
		return tokenRefused(r.cfg.PluginToken, pe)
	}
	if err != nil {
		return fmt.Errorf("memory plugin at %s is not available: %w", r.cfg.PluginURL.Redacted(), err)
	}
	return nil
}

// tokenRefused words a 401 as a fault of MEMORY_PLUGIN_TOKEN: a wrong token
// (never echoed), or none where the plugin wants one.
func tokenRefused(token string, pe *PluginError) error {
	if token == "" {
		return &envvar.Error{Name: "MEMORY_PLUGIN_TOKEN", Reason: "the plugin requires one: " + pe.Error(),
			Accepted: "the token the plugin was started with"}
	}
	return &envvar.Error{Name: "MEMORY_PLUGIN_TOKEN", Value: "(redacted)", Reason: "the plugin refused it: " + pe.Error(),
		Accepted: "the token the plugin was started with"}
}
