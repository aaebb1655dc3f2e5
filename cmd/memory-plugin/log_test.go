package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/logging"
)

// memory-plugin writes package logging's one schema, the one tenant-init
// writes beside it into the container log: ts in RFC 3339 with nanoseconds,
// level, msg, and nothing under another name for the same thing.
func TestItsLogLinesUseTheSchemaTenantInitUses(t *testing.T) {
	cmd := command(t) // no database URL: one error line, exit 78
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	_ = cmd.Run()
	var e map[string]any
	if err := json.Unmarshal(stderr.Bytes(), &e); err != nil {
		t.Fatalf("stderr is not one JSON object (%v):\n%s", err, stderr.String())
	}
	if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(e[logging.TimeKey])); err != nil {
		t.Errorf("%s is not RFC 3339: %v (line %v)", logging.TimeKey, err, e)
	}
	if e[logging.LevelKey] != "error" || !strings.Contains(fmt.Sprint(e[logging.MessageKey]), "cannot start") {
		t.Errorf("want level error and a cannot-start message, got %v", e)
	}
	for _, other := range []string{"time", "timestamp", "message", "severity"} {
		if _, ok := e[other]; ok {
			t.Errorf("the line has a %q key besides the shared ones: %v", other, e)
		}
	}
}
