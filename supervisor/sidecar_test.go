package supervisor_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/internal/inittest"
	"github.com/agentplatform/tenant-init/supervisor"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role))
	}
	os.Exit(m.Run())
}

// startInit runs the init role with c, its FIFOs made in a fresh directory.
func startInit(t *testing.T, mode inittest.Mode, c testConfig) (*inittest.Init, testConfig) {
	t.Helper()
	c.Dir = t.TempDir()
	for _, fifo := range []string{"ready", "crash"} {
		if err := syscall.Mkfifo(filepath.Join(c.Dir, fifo), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	config, _ := json.Marshal(c)
	self, _ := os.Executable()
	env := []string{roleEnv + "=init", configEnv + "=" + string(config), inittest.NoRaceExitDelay}
	in := inittest.Start(t, mode, inittest.Options{Env: env}, self)
	return in, c
}

func forEachMode(t *testing.T, test func(t *testing.T, mode inittest.Mode)) {
	for _, mode := range inittest.Modes {
		t.Run(mode.String(), func(t *testing.T) { test(t, mode) })
	}
}

// logIndex is the position of the first JSON log line for which match holds, or -1.
func logIndex(in *inittest.Init, match func(e map[string]any) bool) int {
	n := 0
	for _, line := range in.Stderr.All() {
		if e, ok := inittest.ParseLog(line); ok {
			if match(e) {
				return n
			}
			n++
		}
	}
	return -1
}

func msgIs(msg string) func(map[string]any) bool {
	return func(e map[string]any) bool { return e["msg"] == msg }
}

func startedService(name string) func(map[string]any) bool {
	return func(e map[string]any) bool { return e["msg"] == "service started" && e["service"] == name }
}

func TestMainServicesStartOnceTheSidecarIsReadyAndStopBeforeIt(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		in, _ := startInit(t, mode, testConfig{Plan: "ready"})
		in.Stdout.AwaitContains(t, "main "+exported+" set=true")
		healthy := in.AwaitLog("memory-plugin: sidecar healthy")
		if healthy["how"] != "fifo" || healthy["ms"] == nil || healthy["service"] != "memory-plugin" {
			t.Fatalf("healthy line %v: want how=fifo, ms and service", healthy)
		}
		if h, m := logIndex(in, msgIs("memory-plugin: sidecar healthy")), logIndex(in, startedService("main")); m < h {
			t.Fatalf("main started (log line %d) before the sidecar was healthy (line %d)", m, h)
		}

		in.Signal(syscall.SIGTERM)
		in.Stdout.AwaitContains(t, "main stopping")
		if got := in.Wait(); got != 0 {
			t.Fatalf("exit %d, want 0: the main service's status after a graceful stop", got)
		}
		if phases := in.LogField("stopping", "phase"); strings.Join(phases, ",") != "main services,sidecars" {
			t.Fatalf("stopping phases %v, want main services then sidecars", phases)
		}
	})
}

func TestASidecarThatDiesDuringItsGateAbortsTheBootAtOnce(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		began := time.Now()
		in, _ := startInit(t, mode, testConfig{Plan: "fail"}) // default gate timeout: 30s
		if got := in.Wait(); got != supervisor.ExitUnavailable {
			t.Fatalf("exit %d, want 69", got)
		}
		if took := time.Since(began); took > 10*time.Second {
			t.Fatalf("the boot failed after %v: the gate waited for its deadline instead of the death", took)
		}
		failed := in.AwaitLog("memory-plugin: sidecar failed: exit status 1")
		tail, _ := failed["stderr_tail"].([]any)
		if len(tail) != 20 || tail[0] != "line 12" || tail[19] != `pq: extension "vector" is not available` {
			t.Fatalf("stderr_tail %q: want the last 20 lines, line 12 to the pq error", tail)
		}
		if failed["hint"] != "run `tenant-init check` to diagnose" {
			t.Fatalf("hint %v", failed["hint"])
		}
		if logIndex(in, startedService("main")) >= 0 {
			t.Fatal("the main service started although the sidecar failed")
		}
		// The sidecar's stderr passes through whole, its last line ended so that the
		// init's next log line does not run into it.
		in.Stderr.Await(t, func(line string) bool { return line == "line 1" })
		in.Stderr.Await(t, func(line string) bool { return line == `pq: extension "vector" is not available` })
	})
}

func TestASidecarNeverReadyAbortsTheBootAfterTheGateTimeout(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		in, _ := startInit(t, mode, testConfig{Plan: "never", GateTimeout: 300 * time.Millisecond, Grace: time.Second})
		if got := in.Wait(); got != supervisor.ExitUnavailable {
			t.Fatalf("exit %d, want 69", got)
		}
		in.AwaitLog("memory-plugin: sidecar failed: still not ready after 300ms")
		if got := in.Logs("stopping"); len(got) != 1 || got[0]["phase"] != "failed sidecar" {
			t.Fatalf("want the unready sidecar stopped once, got %v", got)
		}
	})
}

func TestUnderDegradeMainServicesStartWithTheExportsEmpty(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		in, _ := startInit(t, mode, testConfig{Plan: "fail", Degrade: true})
		in.Stdout.AwaitContains(t, "main MEMORY_PLUGIN_URL= set=true")
		warning := in.AwaitLogContaining("memory-plugin: sidecar failed: exit status 1; degraded: main services start without it")
		if warning["level"] != "warn" || fmt.Sprint(warning["emptied"]) != "[MEMORY_PLUGIN_URL]" {
			t.Fatalf("degrade line %v: want a warning naming MEMORY_PLUGIN_URL as emptied", warning)
		}
		in.Signal(syscall.SIGTERM)
		if got := in.Wait(); got != 0 {
			t.Fatalf("exit %d, want 0", got)
		}
	})
}

func TestASidecarThatDiesAfterBootIsRestartedAndGatedWhileMainRuns(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		in, c := startInit(t, mode, testConfig{Plan: "ready+crash;ready", Restart: supervisor.RestartPolicy{FirstDelay: 10 * time.Millisecond}})
		in.Stdout.AwaitContains(t, "main "+exported)
		crash(t, c)
		in.AwaitLogContaining("memory-plugin: sidecar failed: exit status 1; restarting")
		in.Stdout.AwaitContains(t, "sidecar run 2: ready")
		in.Stderr.Await(t, func(line string) bool {
			e, ok := inittest.ParseLog(line)
			return ok && e["msg"] == "memory-plugin: sidecar healthy" && e["restarts"] == 1.0
		})
		if got := in.Logs("service exited"); len(got) != 1 || got[0]["service"] != "memory-plugin" {
			t.Fatalf("want only the sidecar's exit, the main service running on; got %v", got)
		}
		in.Signal(syscall.SIGTERM)
		if got := in.Wait(); got != 0 {
			t.Fatalf("exit %d, want 0", got)
		}
	})
}

func TestACrashLoopingSidecarIsGivenUpOnUnderItsPolicy(t *testing.T) {
	restart := supervisor.RestartPolicy{FirstDelay: 10 * time.Millisecond, Limit: 2}
	tests := []struct {
		name    string
		degrade bool
		want    int
		line    string
	}{
		{name: "abort stops the container with 69", want: supervisor.ExitUnavailable,
			line: "memory-plugin: sidecar failed: exit status 1; gave up after 2 restarts in a row"},
		{name: "degrade keeps the main service running", degrade: true, want: 0,
			line: "memory-plugin: sidecar failed: exit status 1; gave up after 2 restarts in a row; degraded: main services keep running without it"},
	}
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in, c := startInit(t, mode, testConfig{Plan: "ready+crash;fail", Degrade: tt.degrade, Restart: restart})
				in.Stdout.AwaitContains(t, "main "+exported)
				crash(t, c)
				in.AwaitLog(tt.line)
				if tt.degrade {
					in.Signal(syscall.SIGTERM)
				}
				in.Stdout.AwaitContains(t, "main stopping")
				if got := in.Wait(); got != tt.want {
					t.Fatalf("exit %d, want %d", got, tt.want)
				}
				if runs := len(in.Logs("service started")) - 1; runs != 3 {
					t.Fatalf("the sidecar ran %d times, want 3: the first and 2 restarts", runs)
				}
			})
		}
	})
}

// crash makes a "ready+crash" sidecar exit 1.
func crash(t *testing.T, c testConfig) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(c.Dir, "crash"), []byte("now\n"), 0); err != nil {
		t.Fatal(err)
	}
}
