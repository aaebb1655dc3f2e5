package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/internal/pgtest"
	"github.com/agentplatform/tenant-init/logging"
)

// stopGrace is the `docker stop -t` of the tests: docker's default, the time
// after which docker SIGKILLs. A graceful stop ends well before it.
const stopGrace = 10 * time.Second

func TestWithoutCutoverVariablesOnlyTheMainServiceRunsAndStopsGracefully(t *testing.T) {
	t.Parallel()
	c := start(t, spec{})
	c.waitFor(t, "demomain: started")
	c.waitFor(t, "demomain: memory plugin off")

	if got, want := commands(c.processes(t)), []string{"/app/server", "/tenant-init"}; !slices.Equal(got, want) {
		t.Fatalf("processes in the container: %q, want only the init and the main service %q", got, want)
	}

	took, code := c.stop(t, stopGrace)
	if code != 0 {
		t.Errorf("exit status after docker stop: %d, want 0 (the main service exits 0 on SIGTERM and tenant-init passes it through)", code)
	}
	if took >= stopGrace {
		t.Errorf("docker stop took %s: the container outlived the grace of %s and was killed", took, stopGrace)
	}
	if !strings.Contains(c.out.text(), "demomain: got SIGTERM, exiting 0") {
		t.Errorf("the main service never saw SIGTERM")
	}
}

func TestWithCutoverTheSidecarIsHealthyBeforeTheMainServiceStartsAndServesIt(t *testing.T) {
	t.Parallel()
	c := start(t, spec{env: cutoverEnv(pgtest.New(t), freePort(t))})
	c.waitFor(t, "demomain: round trip ok")

	text := c.out.text()
	healthy := strings.Index(text, "memory-plugin: sidecar healthy")
	started := strings.Index(text, "demomain: started")
	if healthy < 0 || healthy > started {
		t.Fatalf("want %q before the main service's start line, got:\n%s", "memory-plugin: sidecar healthy", text)
	}
	for _, want := range []string{"demomain: committed id=", "demomain: recalled id="} {
		if !strings.Contains(text, want) {
			t.Errorf("the main service's output lacks %q", want)
		}
	}

	oneLogSchema(t, mustDocker(t, "logs", c.name), "tenant-init starting", "listening")

	if got, want := commands(c.processes(t)), []string{"/app/server", "/memory-plugin", "/tenant-init"}; !slices.Equal(got, want) {
		t.Fatalf("processes in the container: %q, want %q", got, want)
	}

	took, code := c.stop(t, stopGrace)
	if code != 0 || took >= stopGrace {
		t.Errorf("docker stop: exit status %d after %s, want 0 within %s", code, took, stopGrace)
	}
}

func TestWithoutPgvectorTheBootFailsWith69AndTheLogsSayWhyAndWhatToRun(t *testing.T) {
	t.Parallel()
	env := cutoverEnv(pgtest.NewWithoutPgvector(t), freePort(t))

	c := start(t, spec{env: env})
	if code := c.wait(t); code != 69 {
		t.Fatalf("exit status %d, want 69 (sidecar gate failed)", code)
	}
	logs := c.logs(t)
	for _, want := range []string{`extension "vector" is not available`, "tenant-init check"} {
		if !strings.Contains(logs, want) {
			t.Errorf("docker logs lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "demomain: started") {
		t.Errorf("the main service started although the gate failed")
	}

	// The hint works: the preflight, as a one-off container, names the problem.
	check := start(t, spec{env: env, flags: []string{"--entrypoint", "/tenant-init"}, cmd: []string{"check"}})
	if code := check.wait(t); code != 1 {
		t.Errorf("tenant-init check: exit status %d, want 1 (a check failed)\n%s", code, check.out.text())
	}
	if !strings.Contains(check.out.text(), "pgvector") {
		t.Errorf("tenant-init check does not name pgvector:\n%s", check.out.text())
	}
}

// oneLogSchema checks that every JSON line of a container log has package
// logging's keys, with ts in RFC 3339 with nanoseconds, and that the lines
// with messages msgs (one from tenant-init, one from the sidecar) are there:
// both programs write the same schema into the one log.
func oneLogSchema(t *testing.T, log string, msgs ...string) {
	t.Helper()
	seen := map[string]bool{}
	for _, line := range strings.Split(log, "\n") {
		var e map[string]any
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(e[logging.TimeKey])); err != nil || e[logging.LevelKey] == nil || e[logging.MessageKey] == nil {
			t.Errorf("log line without the shared %s, %s and %s keys: %s", logging.TimeKey, logging.LevelKey, logging.MessageKey, line)
		}
		if _, ok := e["time"]; ok {
			t.Errorf("log line with a second time key: %s", line)
		}
		seen[fmt.Sprint(e[logging.MessageKey])] = true
	}
	for _, msg := range msgs {
		if !seen[msg] {
			t.Errorf("the container log has no JSON line %q:\n%s", msg, log)
		}
	}
}
