// Command plugin-bench measures the memory plugin side by side with a
// reproduction of the platform's own plugin (package pluginbench). `make
// bench-plugin` builds memory-plugin and runs it; docs/benchmarks.md records
// its tables.
//
//	plugin-bench -plugin-bin bin/memory-plugin [-memories 100000] [-pg stock|recommended]
//	plugin-bench baseline -database-url URL -listen 127.0.0.1:PORT   (the baseline server, run by the above)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/agentplatform/tenant-init/pluginbench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "baseline" {
		err = baseline(ctx, os.Args[2:])
	} else {
		err = bench(ctx, os.Args[1:])
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(64)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "plugin-bench:", err)
		os.Exit(1)
	}
}

// settingsFlag collects repeated -pg-set name=value.
type settingsFlag []string

func (s *settingsFlag) String() string { return strings.Join(*s, " ") }
func (s *settingsFlag) Set(v string) error {
	if name, value, ok := strings.Cut(v, "="); !ok || name == "" || value == "" || strings.ContainsAny(v, " '\"") {
		return fmt.Errorf("%q: want name=value without spaces or quotes, e.g. shared_buffers=512MB", v)
	}
	*s = append(*s, v)
	return nil
}

func bench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("plugin-bench", flag.ContinueOnError)
	o := pluginbench.Options{Progress: os.Stderr}
	var pluginBin, pg string
	var extra settingsFlag
	fs.IntVar(&o.Memories, "memories", 100_000, "memories loaded into each server")
	fs.IntVar(&o.RecallQueries, "queries", 1000, "known-item queries asked by one client (latency and hit@10)")
	fs.IntVar(&o.Unrelated, "unrelated", 200, "unrelated queries asked by one client")
	fs.IntVar(&o.Clients, "clients", 8, "concurrent clients of the throughput phases and the load")
	fs.IntVar(&o.BatchSize, "batch", 250, "memories per batch request when loading ours (1..500)")
	fs.IntVar(&o.BatchClients, "batch-clients", 4, "concurrent batch requests when loading ours (memory-backfill's default concurrency)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each throughput phase per server (run in two halves, alternating)")
	fs.StringVar(&pluginBin, "plugin-bin", "bin/memory-plugin", "our memory-plugin binary (make build)")
	fs.StringVar(&pg, "pg", "recommended", "PostgreSQL settings of both clusters: recommended or stock")
	fs.Var(&extra, "pg-set", "an extra PostgreSQL setting name=value for both clusters, after -pg's (repeatable)")
	fs.StringVar(&o.LogDir, "log-dir", "", "directory for the servers' logs (default: a new temporary directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	case o.Memories < 1000:
		return fmt.Errorf("-memories %d: want at least 1000", o.Memories)
	case o.BatchSize < 1 || o.BatchSize > 500:
		return fmt.Errorf("-batch %d: want 1..500 (the batch endpoint's bound)", o.BatchSize)
	case o.Clients < 1 || o.BatchClients < 1 || o.RecallQueries < 1 || o.Duration < time.Second:
		return errors.New("-clients and -queries must be positive and -duration at least 1s")
	}
	switch pg {
	case "recommended":
		o.Settings = pluginbench.RecommendedSettings
	case "stock":
		o.Settings = pluginbench.StockSettings
	default:
		return fmt.Errorf("-pg %q: want recommended or stock", pg)
	}
	o.Settings = append(o.Settings[:len(o.Settings):len(o.Settings)], extra...)
	if _, err := os.Stat(pluginBin); err != nil {
		return fmt.Errorf("-plugin-bin: %w (run make build, or make bench-plugin)", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	o.PluginArgv, o.BaselineArgv = []string{pluginBin}, []string{self, "baseline"}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT (the corpus is the Go sources' comments): %w", err)
	}
	o.GoRoot = strings.TrimSpace(string(goroot))
	if o.LogDir == "" {
		if o.LogDir, err = os.MkdirTemp("", "plugin-bench-"); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "PostgreSQL settings (-pg %s): %s; logs in %s\n", pg, strings.Join(o.Settings, " "), o.LogDir)
	base, ours, err := pluginbench.Run(ctx, o)
	if err != nil {
		return err
	}
	pluginbench.WriteReport(os.Stdout, o.Memories, base, ours)
	return nil
}

// baseline serves the reproduction of the platform's plugin until a signal.
func baseline(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("plugin-bench baseline", flag.ContinueOnError)
	url := fs.String("database-url", "", "PostgreSQL URL")
	listen := fs.String("listen", "127.0.0.1:9200", "loopback host:port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" {
		return errors.New("baseline: -database-url is required")
	}
	b, err := pluginbench.OpenBaseline(ctx, *url)
	if err != nil {
		return err
	}
	defer b.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	return b.Serve(ctx, ln)
}
