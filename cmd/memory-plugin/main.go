// Command memory-plugin serves the memory plugin HTTP contract v1 on
// PostgreSQL + pgvector. It is configured by environment variables only (see
// --help), migrates its schema, listens, tells a supervisor it is ready
// (READY=1 to $NOTIFY_SOCKET) and stops gracefully on SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/healthgate"
	"github.com/agentplatform/tenant-init/logging"
	"github.com/agentplatform/tenant-init/plugin"
)

// Set by the Makefile's -ldflags.
var (
	version = "dev"
	commit  = "unknown"
)

// Exit codes (sysexits.h where one fits).
const (
	exitOK          = 0
	exitUsage       = 64 // EX_USAGE: unknown flag or argument
	exitUnavailable = 69 // EX_UNAVAILABLE: database unreachable, pgvector missing, migration failed
	exitOSErr       = 71 // EX_OSERR: cannot listen or serve
	exitConfig      = 78 // EX_CONFIG: a bad or missing environment value
)

// shutdownGrace bounds a graceful stop: in-flight requests get this long,
// inside the 10 s a supervisor waits before SIGKILL.
const shutdownGrace = 8 * time.Second

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	// The command line is two flags, parsed here rather than by cobra: a
	// sidecar that runs for the container's life should not map a command
	// framework's code (cobra, pflag, text/template) it uses once.
	help, showVersion, extra := false, false, ""
	usageError := func(msg string) int {
		fmt.Fprintf(stderr, "memory-plugin: %s (see memory-plugin --help)\n", msg)
		return exitUsage
	}
	for _, arg := range args {
		switch {
		case arg == "-h" || arg == "--help":
			help = true
		case arg == "-v" || arg == "--version":
			showVersion = true
		case strings.HasPrefix(arg, "--"):
			return usageError("unknown flag: " + arg)
		case strings.HasPrefix(arg, "-") && len(arg) > 1:
			return usageError(fmt.Sprintf("unknown shorthand flag: %q in %s", arg[1], arg))
		case extra == "":
			extra = arg
		}
	}
	// As cobra did: a bad flag is an error whatever else is asked, --help
	// and --version win over an argument.
	switch {
	case help:
		fmt.Fprint(stdout, usage())
		return exitOK
	case showVersion:
		fmt.Fprintf(stdout, "memory-plugin version %s (%s)\n", version, commit)
		return exitOK
	case extra != "":
		return usageError(fmt.Sprintf("unknown command %q for %q", extra, "memory-plugin"))
	}
	return serve(stderr)
}

// usage is --help's text.
func usage() string {
	return help() + `
Usage:
  memory-plugin [flags]

Flags:
  -h, --help      help for memory-plugin
  -v, --version   version for memory-plugin
`
}

// serve runs the plugin until a signal stops it and returns the exit code;
// a failure is logged, with its code, before it is returned.
func serve(stderr io.Writer) int {
	// JSON always: the sidecar's stderr is the container log, beside tenant-init's.
	log := zap.New(logging.NewCore(logging.JSON, zapcore.InfoLevel, stderr))
	defer log.Sync()
	fail := func(code int, err error) int {
		log.Error("memory-plugin cannot start: "+err.Error(), zap.Int("exit_code", code))
		return code
	}

	cfg, err := plugin.ConfigFromEnv(envvar.OS)
	if err != nil {
		return fail(exitConfig, err)
	}
	cfg.Logger = log

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	svc, err := plugin.Open(ctx, cfg)
	var dimErr *plugin.DimensionError
	switch {
	case ctx.Err() != nil:
		log.Info("stopped while starting")
		return exitOK
	case errors.As(err, &dimErr), isEnvError(err):
		return fail(exitConfig, err)
	case err != nil:
		return fail(exitUnavailable, err)
	}
	defer svc.Close()

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fail(exitOSErr, fmt.Errorf("listening on %s (%s): %w", cfg.ListenAddr, plugin.EnvListenAddr, err))
	}
	srv := svc.HTTPServer()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", zap.String("addr", ln.Addr().String()), zap.String("version", version),
		zap.Bool("token", cfg.Token != ""), zap.Int("embedding_dim", cfg.EmbeddingDim), zap.String("schema", cfg.Schema))
	// READY=1 through healthgate's sending side of the sd_notify protocol
	// (tenant-init's gate is the receiving side).
	if err := healthgate.Notify("READY=1"); err != nil {
		log.Warn("could not tell the supervisor we are ready", zap.Error(err))
	}
	// Adopted tables of the platform's plugin are embedded and indexed
	// after the plugin serves; a stop interrupts it and the next boot
	// resumes it.
	adoptCtx, stopAdoption := context.WithCancel(context.Background())
	adopted := make(chan struct{})
	go func() {
		defer close(adopted)
		if err := svc.FinishAdoption(adoptCtx); err != nil && adoptCtx.Err() == nil {
			log.Error("adoption of the platform plugin's tables stopped; the next boot resumes it", zap.Error(err))
		}
	}()
	defer func() { stopAdoption(); <-adopted }()

	select {
	case err := <-served:
		return fail(exitOSErr, fmt.Errorf("serving on %s: %w", ln.Addr(), err))
	case <-ctx.Done():
	}
	log.Info("stopping: signal received")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("requests still running at the deadline were cut off", zap.Error(err))
		srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		log.Warn("server", zap.Error(err))
	}
	log.Info("stopped")
	return exitOK
}

func isEnvError(err error) bool {
	var e *envvar.Error
	return errors.As(err, &e)
}

func help() string {
	var b strings.Builder
	b.WriteString(`memory-plugin serves the memory plugin HTTP API v1 (and the batch, lookup,
created_at and metadata extensions) on PostgreSQL with pgvector. At start it
creates pgvector if it is missing, migrates its schema under an advisory lock
(adopting in place the tables of the platform's plugin when it finds them),
listens, and sends READY=1 to $NOTIFY_SOCKET; an adoption's embedding and
indexing then run in the background (progress in /v1/health "adoption").
SIGTERM or SIGINT stop it gracefully within 10 s.

Environment:
`)
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	for _, v := range plugin.EnvVars {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, v.Default, v.Meaning)
	}
	fmt.Fprintf(tw, "  NOTIFY_SOCKET\t(unset)\tunix datagram socket that gets READY=1 once migrated and listening ('@' = abstract)\n")
	tw.Flush()
	b.WriteString(`
Exit codes:
  0   stopped by SIGTERM or SIGINT
  64  usage: an unknown flag or argument
  69  the database is unreachable, pgvector is missing or too old, or a migration failed
  71  cannot listen on the address, or serving failed
  78  configuration: a missing or invalid environment value, or an embedding
      dimension that differs from the one the schema was created with
`)
	return b.String()
}
