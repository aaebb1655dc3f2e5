// Command memory-backfill copies a tenant's v1 agent memories into the memory
// plugin. Run it with -help; the implementation is package backfill, shared
// with `tenant-init backfill`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/agentplatform/tenant-init/backfill"
	"github.com/agentplatform/tenant-init/envvar"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := backfill.Main(ctx, os.Args[1:], envvar.OS, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
