package main

import (
	"os"

	"github.com/agentplatform/tenant-init/logging"
	"github.com/agentplatform/tenant-init/supervisor"
)

// run supervises COMMAND, the declared services and, when the operator opted
// in to memory v2, the memory-plugin sidecar, until the container ends.
func run(cfg Config, command []string) int {
	log := logging.New(logging.Format(cfg.LogFormat), cfg.LogLevel, os.Stderr)
	log.Info("tenant-init starting", logging.String("version", version), logging.String("commit", commit))
	log.Info("memory plugin: "+cfg.Memory.Describe(), logging.Stringer("mode", cfg.Memory.Mode))
	sidecar, gate, err := memorySidecar(cfg.Memory)
	if err != nil {
		log.Error(err.Error())
		return supervisor.ExitOSError
	}
	if gate != nil {
		defer gate.Close()
	}
	return supervisor.Run(supervisor.Config{
		Services:  services(cfg, command, sidecar),
		Grace:     cfg.Grace,
		User:      cfg.User,
		AllowRoot: cfg.AllowRoot,
		Log:       log,
	})
}

// services lists what the container runs: sidecars (started first, whatever
// their place here), COMMAND as "main", then the declared services.
func services(cfg Config, command []string, sidecar *supervisor.Service) []supervisor.Service {
	var svcs []supervisor.Service
	if sidecar != nil {
		svcs = append(svcs, *sidecar)
	}
	svcs = append(svcs, supervisor.Service{Name: "main", Role: supervisor.Main, Argv: command})
	return append(svcs, cfg.Services...)
}
