package main

import (
	"fmt"
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
