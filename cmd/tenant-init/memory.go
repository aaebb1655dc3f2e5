package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/agentplatform/tenant-init/cutover"
	"github.com/agentplatform/tenant-init/healthgate"
	"github.com/agentplatform/tenant-init/supervisor"
)

// memorySidecarName names the sidecar in logs: its healthy line reads
// "memory-plugin: sidecar healthy", the line operators watch for on cutover.
const memorySidecarName = "memory-plugin"

// diagnoseHint ends a sidecar failure line: the preflight names the cause
// (pgvector missing, role without the right, port taken) that the sidecar's
// own stderr may only hint at.
const diagnoseHint = "run `tenant-init check` (docker exec <container> /tenant-init check) to diagnose"

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

// memorySidecar declares the bundled memory-plugin sidecar the cutover plan
// asks for, gated on its health, or nothing when the plan has no sidecar: a
// tenant that did not opt in gets no process, no migration and no gate. The
// returned gate must be closed when the container ends.
func memorySidecar(plan cutover.Plan) (*supervisor.Service, *healthgate.Gate, error) {
	if plan.Mode != cutover.ModeBundled {
		return nil, nil, nil
	}
	gate, err := healthgate.New(plan.ProbeURL, plan.GateTimeout)
	if err != nil {
		return nil, nil, fmt.Errorf("memory-plugin gate: %w", err)
	}
	onFailure := supervisor.Abort
	if !plan.Required {
		onFailure = supervisor.Degrade
	}
	return &supervisor.Service{
		Name: memorySidecarName,
		Role: supervisor.Sidecar,
		Argv: []string{plan.Bin},
		Env:  plan.SidecarEnv(),
		Gate: gate,
		// The gate enforces plan.GateTimeout itself and says why it gave up
		// (the last probe error); the supervisor's bound is only a backstop.
		GateTimeout: plan.GateTimeout + time.Second,
		Exports:     plan.MainEnv(),
		OnFailure:   onFailure,
		// The supervisor's restart schedule (about 1s doubling to 30s) with
		// the operator's crash-loop limit.
		Restart: supervisor.RestartPolicy{Limit: plan.RestartLimit},
		Hint:    diagnoseHint,
		Lost:    "memory is off",
		// Probes cannot tell who answers them: the address must be free.
		Precheck: func() error { return healthgate.AddressFree(plan.ListenAddr) },
	}, gate, nil
}
