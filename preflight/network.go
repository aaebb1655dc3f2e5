package preflight

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/agentplatform/tenant-init/healthgate"
)

// checkListen binds the sidecar's listen address for a moment. A port that is
// taken by a healthy memory plugin is not a failure: run through `docker exec`
// in a tenant that already has its sidecar, that plugin is the one holding it.
func checkListen(ctx context.Context, addr, probeURL string) Result {
	err := healthgate.AddressFree(addr)
	if err == nil {
		return pass(CheckListen, "%s is free", addr)
	}
	if h, herr := getHealth(ctx, probeURL); herr == nil && h.Status == "ok" {
		return pass(CheckListen, "%s is held by a healthy memory plugin (version %s), the sidecar already running here", addr, h.Version)
	}
	return fail(CheckListen,
		"stop whatever listens there (`ss -ltnp` shows it) or choose another MEMORY_PLUGIN_LISTEN_ADDR (and the same port in MEMORY_PLUGIN_URL)",
		"%v", err)
}

// checkExternalPlugin asks an external plugin's /v1/health.
func checkExternalPlugin(ctx context.Context, base string) Result {
	h, err := getHealth(ctx, base)
	if err != nil {
		return fail(CheckExternalPlugin,
			"make sure the plugin at MEMORY_PLUGIN_URL runs and is reachable from this container, or unset MEMORY_PLUGIN_URL until it is",
			"%s/v1/health: %v", strings.TrimRight(base, "/"), err)
	}
	return pass(CheckExternalPlugin, "%s answers: status %s, version %s, capabilities %s",
		strings.TrimRight(base, "/"), h.Status, h.Version, strings.Join(h.Capabilities, ","))
}

// health is the body of GET /v1/health (memory-plugin HTTP API v1).
type health struct {
	Status       string   `json:"status"`
	Version      string   `json:"version"`
	Capabilities []string `json:"capabilities"`
}

func getHealth(ctx context.Context, base string) (health, error) {
	var h health
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/v1/health", nil)
	if err != nil {
		return h, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return h, err
	}
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return h, fmt.Errorf("answered 200 but not with a health object: %v", err)
	}
	return h, nil
}
