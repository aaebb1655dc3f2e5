package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/internal/inittest"
	"github.com/agentplatform/tenant-init/internal/lagbench"
)

// BenchmarkReadyToMainStart measures, end to end, the dead time between the
// memory-plugin sidecar turning healthy (the test sidecar's own timestamp)
// and the main service's first output (`date +%s%N`, the main service):
// under the real tenant-init, gated by probe or by READY=1, and under the old
// entrypoint's loop run by a real sh with curl and `sleep 1`.
//
// The sidecar turns healthy at lagbench.Offsets from its start; run with
//
//	go test -run '^$' -bench ReadyToMainStart -benchtime 10x ./cmd/tenant-init
func BenchmarkReadyToMainStart(b *testing.B) {
	b.Run("tenant-init-probe", func(b *testing.B) { benchInit(b, false) })
	b.Run("tenant-init-notify", func(b *testing.B) { benchInit(b, true) })
	b.Run("shell-sleep-1", benchShell)
}

func benchInit(b *testing.B, notify bool) {
	addr := freeLoopbackAddr(b)
	var lags, spawnLags []time.Duration
	byNotify := 0
	for i := 0; b.Loop(); i++ {
		env := optIn(addr, "SIDECAR_READY_AFTER="+lagbench.Offset(i).String())
		if notify {
			env = append(env, "SIDECAR_NOTIFY=1")
		}
		cmd := exec.Command(tenantInit, "--allow-root", "date", "+%s%N")
		cmd.Env = append(os.Environ(), env...)
		stdout, stderr := runBench(b, cmd)
		ready, mainOut := benchTimes(b, stdout)
		lags = append(lags, mainOut.Sub(ready))

		var healthy, started map[string]any
		for line := range strings.SplitSeq(stderr, "\n") {
			e, _ := inittest.ParseLog(line)
			switch {
			case e["msg"] == "memory-plugin: sidecar healthy":
				healthy = e
			case e["msg"] == "service started" && e["service"] == "main":
				started = e
			}
		}
		if healthy == nil || started == nil {
			b.Fatalf("no healthy or main started line in the log:\n%s", stderr)
		}
		if healthy["how"] == "notify" {
			byNotify++
		}
		at, err := time.Parse(time.RFC3339Nano, started["ts"].(string))
		if err != nil {
			b.Fatal(err)
		}
		spawnLags = append(spawnLags, at.Sub(ready))
	}
	lagbench.Report(b, lags, "")
	lagbench.Report(b, spawnLags, "-to-spawn")
	if notify {
		// A probe may land between the flip to 200 and the datagram.
		b.ReportMetric(100*float64(byNotify)/float64(len(lags)), "%-by-notify")
	}
}

func benchShell(b *testing.B) {
	addr := freeLoopbackAddr(b)
	var lags []time.Duration
	for i := 0; b.Loop(); i++ {
		// The entrypoint's shape: sidecar in the background, the health loop,
		// then the main service.
		cmd := exec.Command("sh", "-c", `"$SIDECAR" & sidecar=$!
for i in $(seq 1 30); do curl -fsS -o /dev/null "$URL" 2>/dev/null && break; sleep 1; done
date +%s%N
kill $sidecar; wait $sidecar`)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "SIDECAR=" + sidecarBin, "URL=http://" + addr + "/v1/health",
			"MEMORY_PLUGIN_LISTEN_ADDR=" + addr, "SIDECAR_READY_AFTER=" + lagbench.Offset(i).String()}
		stdout, _ := runBench(b, cmd)
		ready, mainOut := benchTimes(b, stdout)
		lags = append(lags, mainOut.Sub(ready))
	}
	lagbench.Report(b, lags, "")
}

// runBench runs cmd to its end and returns its output; any exit status but
// the shell's 143 (its sidecar killed) fails the benchmark.
func runBench(b *testing.B, cmd *exec.Cmd) (stdout, stderr string) {
	b.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil && cmd.ProcessState.ExitCode() != 143 {
		b.Fatalf("%v: %v\n%s%s", cmd.Args, err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// benchTimes reads, from a run's stdout, when the sidecar turned healthy and
// when the main service printed its time.
func benchTimes(b *testing.B, stdout string) (ready, mainOut time.Time) {
	b.Helper()
	for line := range strings.SplitSeq(stdout, "\n") {
		if at, ok := strings.CutPrefix(line, "sidecar: healthy at "); ok {
			ready, _ = time.Parse(time.RFC3339Nano, at)
		} else if ns, err := strconv.ParseInt(line, 10, 64); err == nil {
			mainOut = time.Unix(0, ns)
		}
	}
	if ready.IsZero() || mainOut.IsZero() {
		b.Fatalf("no readiness or main service time in:\n%s", stdout)
	}
	return ready, mainOut
}
