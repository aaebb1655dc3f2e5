package logging_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestAJSONEntryHasTheSharedKeysAndAnRFC3339NanoTime(t *testing.T) {
	var out bytes.Buffer
	log := zap.New(logging.NewCore(logging.JSON, zapcore.InfoLevel, &out))
	log.Named("http").Info("listening", zap.String("addr", "127.0.0.1:9100"), zap.Duration("took", 1500*time.Millisecond))

	var e map[string]any
	if err := json.Unmarshal(out.Bytes(), &e); err != nil {
		t.Fatalf("not one JSON object (%v): %q", err, out.String())
	}
	ts, _ := e["ts"].(string)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("ts %q is not RFC 3339: %v", ts, err)
	}
	want := map[string]any{"level": "info", "logger": "http", "msg": "listening", "addr": "127.0.0.1:9100", "took": "1.5s"}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("%s = %v, want %v (entry %v)", k, e[k], v, e)
		}
	}
	if len(e) != len(want)+1 {
		t.Errorf("entry has keys beyond ts and %v: %v", want, e)
	}
}

func TestEntriesBelowTheLevelAreDropped(t *testing.T) {
	var out bytes.Buffer
	log := logging.New(logging.JSON, logging.WarnLevel, &out)
	log.Info("quiet")
	log.Warn("loud")
	if got := out.String(); strings.Contains(got, "quiet") || !strings.Contains(got, "loud") {
		t.Fatalf("at warn level the log holds %q: want the warning only", got)
	}
}

func TestTheConsoleFormatWritesATextLineWithACapitalLevel(t *testing.T) {
	var out bytes.Buffer
	logging.New(logging.Console, logging.InfoLevel, &out).Info("service started", logging.String("service", "main"))
	line := strings.TrimSuffix(out.String(), "\n")
	fields := strings.Split(line, "\t")
	if len(fields) != 4 || fields[1] != "INFO" || fields[2] != "service started" || fields[3] != `{"service": "main"}` {
		t.Fatalf("console line %q: want time, INFO, message and fields separated by tabs", line)
	}
	if _, err := time.Parse(time.RFC3339Nano, fields[0]); err != nil {
		t.Fatalf("console time %q is not RFC 3339: %v", fields[0], err)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("want one line, got %q", out.String())
	}
}
