package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/internal/inittest"
)

// These tests run the real tenant-init with testdata/sidecar as
// MEMORY_PLUGIN_BIN, each sidecar on a loopback port of its own, and sh as the
// main service, printing the MEMORY_PLUGIN_URL it was given.

// cutoverVariables are the variables package cutover reads: the operators'
// contract (docs/boot.md) and tenant-init's own (docs/tenant-init.md, "Memory
// v2 cutover").
var cutoverVariables = []string{
	"MEMORY_V2_CUTOVER", "MEMORY_PLUGIN_URL", "MEMORY_PLUGIN_DISABLE", "MEMORY_PLUGIN_DATABASE_URL",
	"DATABASE_URL", "MEMORY_PLUGIN_LISTEN_ADDR", "MEMORY_PLUGIN_BIN", "MEMORY_PLUGIN_GATE_TIMEOUT",
	"MEMORY_PLUGIN_REQUIRED", "MEMORY_PLUGIN_RESTART_LIMIT",
}

// testDatabase is never connected to (the test sidecar has no database); its
// password must never reach the logs.
const testDatabase = "postgres://app:s3cret@db.internal:5432/tenant"

// optIn is the environment of a tenant that opted in to memory v2, the test
// sidecar listening on addr, then env: the sidecar's behaviour and overrides.
func optIn(addr string, env ...string) []string {
	return append([]string{"MEMORY_V2_CUTOVER=true", "DATABASE_URL=" + testDatabase,
		"MEMORY_PLUGIN_BIN=" + sidecarBin, "MEMORY_PLUGIN_LISTEN_ADDR=" + addr}, env...)
}

// mainSays starts the line in which the main service reports its MEMORY_PLUGIN_URL.
const mainSays = "main: MEMORY_PLUGIN_URL="

// reportURL is the command line of a main service that reports the
// MEMORY_PLUGIN_URL it got ("unset" when it has none), then runs then.
func reportURL(then string) []string {
	return []string{"--allow-root", "sh", "-c", `echo "` + mainSays + `[${MEMORY_PLUGIN_URL-unset}]"; ` + then}
}

// urlSeen waits for the main service's report and returns its MEMORY_PLUGIN_URL.
func urlSeen(t *testing.T, in *inittest.Init) string {
	t.Helper()
	line := in.Stdout.Await(t, func(l string) bool { return strings.HasPrefix(l, mainSays) })
	return strings.TrimSuffix(strings.TrimPrefix(line, mainSays+"["), "]")
}

// serviceLogs returns the log lines so far whose msg is msg, about service.
func serviceLogs(in *inittest.Init, msg, service string) []map[string]any {
	var found []map[string]any
	for _, e := range in.Logs(msg) {
		if e["service"] == service {
			found = append(found, e)
		}
	}
	return found
}

// serviceLog returns the one log line so far whose msg is msg, about service.
func serviceLog(t *testing.T, in *inittest.Init, msg, service string) map[string]any {
	t.Helper()
	found := serviceLogs(in, msg, service)
	if len(found) != 1 {
		t.Fatalf("want one %q line for %s, got %v", msg, service, found)
	}
	return found[0]
}

// logTime is when a log line was written.
func logTime(t *testing.T, e map[string]any) time.Time {
	t.Helper()
	ts, _ := e["ts"].(string)
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Fatalf("log line without a time: %v", e)
	}
	return at
}

// awaitHealthy waits for the healthy line of the sidecar's restarts-th restart.
func awaitHealthy(t *testing.T, in *inittest.Init, restarts int) map[string]any {
	t.Helper()
	var healthy map[string]any
	in.Stderr.Await(t, func(line string) bool {
		e, ok := inittest.ParseLog(line)
		if ok && e["msg"] == "memory-plugin: sidecar healthy" && e["restarts"] == float64(restarts) {
			healthy = e
		}
		return healthy != nil
	})
	return healthy
}

// notifyAttempts bounds how often a boot whose sidecar sends READY=1 is
// tried until the gate says it saw it. A probe timed between the sidecar's
// flip to 200 and the gate's reading of the datagram passes the gate "by
// probe": rightly, and on this shared, loaded machine in a few % of boots.
// A gate deaf to READY=1 fails every attempt.
const notifyAttempts = 3

// bootNotified boots again, up to notifyAttempts boots in all, while the
// healthy line of the last says how=probe, and returns the last init and
// its healthy line.
func bootNotified(t *testing.T, in *inittest.Init, healthy map[string]any, boot func() (*inittest.Init, map[string]any)) (*inittest.Init, map[string]any) {
	t.Helper()
	for attempt := 1; healthy["how"] != "notify" && attempt < notifyAttempts; attempt++ {
		t.Logf("boot %d: a probe passed the gate before READY=1 did; booting again", attempt)
		in, healthy = boot()
	}
	return in, healthy
}

// wantBootAborted checks the end of a boot the sidecar failed under the abort
// policy: exit 69, and one error line that contains each of want and the hint.
func wantBootAborted(t *testing.T, in *inittest.Init, want ...string) map[string]any {
	t.Helper()
	if got := in.Wait(); got != 69 {
		t.Fatalf("tenant-init exited %d, want 69", got)
	}
	var failed map[string]any
	for _, line := range in.Stderr.All() {
		if e, ok := inittest.ParseLog(line); ok && e["level"] == "error" {
			if failed != nil {
				t.Fatalf("two error lines:\n%v\n%v", failed, e)
			}
			failed = e
		}
	}
	msg, _ := failed["msg"].(string)
	if !strings.HasPrefix(msg, "memory-plugin: sidecar failed: ") {
		t.Fatalf("error line %v, want one saying the memory-plugin sidecar failed", failed)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("failure line %q does not say %q", msg, w)
		}
	}
	if hint, _ := failed["hint"].(string); !strings.Contains(hint, "run `tenant-init check`") {
		t.Errorf("failure line hint %q, want one to run `tenant-init check`", hint)
	}
	return failed
}

// wantMainNeverStarted checks that the main service never ran.
func wantMainNeverStarted(t *testing.T, in *inittest.Init) {
	t.Helper()
	if started := serviceLogs(in, "service started", "main"); len(started) > 0 {
		t.Errorf("the main service started: %v", started)
	}
	for _, line := range in.Stdout.All() {
		if strings.HasPrefix(line, mainSays) {
			t.Errorf("the main service ran: %q", line)
		}
	}
}

func TestTheMainServiceStartsOnceTheSidecarIsHealthyAndGetsItsURL(t *testing.T) {
	t.Parallel()
	const readyAfter = 400 * time.Millisecond
	tests := []struct {
		name string
		env  []string
		how  string
	}{
		{name: "a sidecar that never notifies is seen healthy by probe",
			env: []string{"SIDECAR_READY_AFTER=" + readyAfter.String()}, how: "probe"},
		{name: "a sidecar that sends READY=1 is seen healthy by notify",
			env: []string{"SIDECAR_READY_AFTER=" + readyAfter.String(), "SIDECAR_NOTIFY=1"}, how: "notify"},
	}
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				addr := freeLoopbackAddr(t)
				var url string
				var code int
				boot := func() (*inittest.Init, map[string]any) {
					in := start(t, mode, inittest.Options{Env: optIn(addr, tt.env...)}, reportURL("exit 3")...)
					url = urlSeen(t, in)
					code = in.Wait()
					return in, serviceLog(t, in, "memory-plugin: sidecar healthy", "memory-plugin")
				}
				in, healthy := boot()
				if tt.how == "notify" {
					in, healthy = bootNotified(t, in, healthy, boot)
				}
				if url != "http://"+addr {
					t.Errorf("main service got MEMORY_PLUGIN_URL=%q, want http://%s", url, addr)
				}
				if code != 3 {
					t.Fatalf("tenant-init exited %d, want 3, the main service's status", code)
				}
				if healthy["how"] != tt.how || healthy["restarts"] != float64(0) {
					t.Errorf("healthy line %v: want how=%s, restarts=0", healthy, tt.how)
				}
				if ms, _ := healthy["ms"].(float64); ms < float64(readyAfter.Milliseconds()) {
					t.Errorf("healthy after %v ms, before the sidecar could be (%v)", healthy["ms"], readyAfter)
				}
				// The benchmark measures this lag precisely; here only its order
				// of magnitude: tens of ms, not the shell loop's second.
				lag := logTime(t, serviceLog(t, in, "service started", "main")).Sub(logTime(t, healthy))
				if lag < 0 || lag > 200*time.Millisecond {
					t.Errorf("main service started %v after the sidecar was healthy, want 0 to 200ms", lag)
				}
				t.Logf("healthy to main started: %v", lag)
				if all := strings.Join(in.Stderr.All(), "\n"); strings.Contains(all, "s3cret") {
					t.Errorf("the database password is in the log:\n%s", all)
				}
			})
		}
	})
}

func TestASidecarThatNeverTurnsHealthyAbortsTheBootAtTheGateTimeout(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		env := optIn(freeLoopbackAddr(t), "SIDECAR_NEVER_READY=1", "MEMORY_PLUGIN_GATE_TIMEOUT=500ms")
		in := start(t, mode, inittest.Options{Env: env}, reportURL("exit 0")...)
		failed := wantBootAborted(t, in, "still not ready after 500ms", "503 Service Unavailable")
		wantMainNeverStarted(t, in)
		if waited := logTime(t, failed).Sub(logTime(t, serviceLog(t, in, "service started", "memory-plugin"))); waited < 500*time.Millisecond {
			t.Errorf("gave up %v after the start, before the 500ms timeout", waited)
		}
	})
}

func TestASidecarThatDiesFailsTheBootWithinASecondOfItsDeath(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		// The gate timeout is the default 30s: reaching it would fail the test.
		in := start(t, mode, inittest.Options{Env: optIn(freeLoopbackAddr(t), "SIDECAR_FAIL_AFTER=300ms")}, reportURL("exit 0")...)
		failed := wantBootAborted(t, in, "exit status 1")
		wantMainNeverStarted(t, in)
		tail, _ := failed["stderr_tail"].([]any)
		if !slices.Contains(tail, any(`pq: extension "vector" is not available`)) {
			t.Errorf("failure line's stderr_tail %v lacks the sidecar's last words", tail)
		}
		died := logTime(t, serviceLog(t, in, "service exited", "memory-plugin"))
		exited := logTime(t, in.AwaitLog("exiting"))
		if took := exited.Sub(died); took < 0 || took > time.Second {
			t.Errorf("tenant-init exited %v after the sidecar's death, want within 1s", took)
		}
		t.Logf("sidecar death to exit 69: %v", exited.Sub(died))
	})
}

func TestAMissingSidecarBinaryAbortsTheBoot(t *testing.T) {
	t.Parallel()
	env := optIn(freeLoopbackAddr(t), "MEMORY_PLUGIN_BIN=/no/such/memory-plugin")
	in := start(t, inittest.Subreaper, inittest.Options{Env: env}, reportURL("exit 0")...)
	wantBootAborted(t, in, "cannot start: ", "/no/such/memory-plugin")
	wantMainNeverStarted(t, in)
}

func TestASidecarWhoseAddressIsTakenByAHealthyImpostorAbortsTheBoot(t *testing.T) {
	t.Parallel()
	// Another process already serves a healthy /v1/health on the sidecar's
	// address: without the precheck, the gate's probe would reach it and the
	// boot would go on with a sidecar that never bound its port.
	impostor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ok","version":"1.0.0","capabilities":[]}`))
	}))
	defer impostor.Close()
	addr := impostor.Listener.Addr().String()
	in := start(t, inittest.Subreaper, inittest.Options{Env: optIn(addr)}, reportURL("exit 0")...)
	wantBootAborted(t, in, "not started: "+addr+" is already in use")
	wantMainNeverStarted(t, in)
	if started := serviceLogs(in, "service started", "memory-plugin"); len(started) > 0 {
		t.Errorf("the sidecar was spawned onto a taken address: %v", started)
	}
}

func TestWithMemoryNotRequiredAFailingSidecarLeavesTheMainServiceWithMemoryOff(t *testing.T) {
	t.Parallel()
	env := optIn(freeLoopbackAddr(t), "SIDECAR_FAIL_AFTER=200ms", "MEMORY_PLUGIN_REQUIRED=false")
	in := start(t, inittest.PID1, inittest.Options{Env: env}, reportURL("exit 5")...)
	if got := urlSeen(t, in); got != "" {
		t.Errorf("main service got MEMORY_PLUGIN_URL=%q, want it set empty", got)
	}
	if got := in.Wait(); got != 5 {
		t.Fatalf("tenant-init exited %d, want 5, the main service's status", got)
	}
	warning := in.AwaitLogContaining("memory-plugin: sidecar failed: ")
	if msg := warning["msg"].(string); warning["level"] != "warn" ||
		!strings.Contains(msg, "exit status 1; degraded: main services start without it: memory is off") {
		t.Errorf("failure line %v: want a warning that memory is off", warning)
	}
	for _, line := range in.Stderr.All() {
		if e, ok := inittest.ParseLog(line); ok && e["level"] == "error" {
			t.Errorf("an error line under the degrade policy: %s", line)
		}
	}
}

func TestASidecarThatCrashesAfterBootIsRestartedAndGatedAgainWhileTheMainServiceRuns(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		crash := filepath.Join(t.TempDir(), "crash")
		in := start(t, mode, inittest.Options{Env: optIn(freeLoopbackAddr(t), "SIDECAR_CRASH_FILE="+crash)}, reportURL("exec sleep 600")...)
		urlSeen(t, in)
		if err := os.WriteFile(crash, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		restarting := in.AwaitLogContaining("memory-plugin: sidecar failed: exit status 1; restarting")
		// The restart is a second away: time enough to let the next run live.
		if err := os.Remove(crash); err != nil {
			t.Fatal(err)
		}
		// 1s, randomised by ±50 %
		if delay, err := time.ParseDuration(fmt.Sprint(restarting["delay"])); err != nil || delay < 500*time.Millisecond || delay > 1500*time.Millisecond ||
			restarting["restart"] != float64(1) || restarting["limit"] != float64(5) {
			t.Errorf("restart line %v: want a delay of 0.5 to 1.5s, restart 1 of limit 5", restarting)
		}
		awaitHealthy(t, in, 1)
		if got := len(serviceLogs(in, "service started", "memory-plugin")); got != 2 {
			t.Errorf("sidecar started %d times, want 2", got)
		}
		in.Signal(syscall.SIGTERM)
		if got := in.Wait(); got != 128+int(syscall.SIGTERM) {
			t.Fatalf("tenant-init exited %d, want 143: the main service killed by the SIGTERM", got)
		}
		if started, exited := serviceLogs(in, "service started", "main"), serviceLog(t, in, "service exited", "main"); len(started) != 1 || exited["code"] != float64(143) {
			t.Errorf("main service started %d times and exited %v: want one run, ended by the SIGTERM", len(started), exited)
		}
	})
}

func TestACrashLoopingSidecarIsGivenUpOnUnderItsPolicy(t *testing.T) {
	t.Parallel()
	const gaveUp = "memory-plugin: sidecar failed: exit status 1; gave up after 1 restart in a row"
	tests := []struct {
		name     string
		required string
		check    func(t *testing.T, in *inittest.Init)
	}{
		{name: "under abort the container ends with 69", required: "true", check: func(t *testing.T, in *inittest.Init) {
			wantBootAborted(t, in, gaveUp)
		}},
		{name: "under degrade the main service keeps running with memory off", required: "false", check: func(t *testing.T, in *inittest.Init) {
			warning := in.AwaitLogContaining(gaveUp)
			if msg := warning["msg"].(string); warning["level"] != "warn" || !strings.HasSuffix(msg, "degraded: main services keep running without it: memory is off") {
				t.Errorf("failure line %v: want a warning that the main services keep running with memory off", warning)
			}
			if exited := serviceLogs(in, "service exited", "main"); len(exited) > 0 {
				t.Fatalf("the main service exited: %v", exited)
			}
			in.Signal(syscall.SIGTERM)
			if got := in.Wait(); got != 128+int(syscall.SIGTERM) {
				t.Fatalf("tenant-init exited %d, want 143: the main service, still running, killed by the SIGTERM", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crash := filepath.Join(t.TempDir(), "crash")
			env := optIn(freeLoopbackAddr(t), "SIDECAR_CRASH_FILE="+crash, "MEMORY_PLUGIN_RESTART_LIMIT=1", "MEMORY_PLUGIN_REQUIRED="+tt.required)
			in := start(t, inittest.PID1, inittest.Options{Env: env}, reportURL("exec sleep 600")...)
			urlSeen(t, in)
			// Left in place: every run crashes once healthy.
			if err := os.WriteFile(crash, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			tt.check(t, in)
			if got := len(serviceLogs(in, "service started", "memory-plugin")); got != 2 {
				t.Errorf("sidecar started %d times, want 2: the first run and one restart", got)
			}
			if got := len(serviceLogs(in, "service started", "main")); got != 1 {
				t.Errorf("main service started %d times, want once", got)
			}
		})
	}
}

func TestTheCutoverEnvironmentDecidesWhetherTheSidecarRuns(t *testing.T) {
	t.Parallel()
	addr := freeLoopbackAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	db := "DATABASE_URL=" + testDatabase
	bin := "MEMORY_PLUGIN_BIN=" + sidecarBin
	tests := []struct {
		name      string
		env       []string
		private   bool   // in a network namespace of its own, where 127.0.0.1:9100 is free
		mode      string // in the boot's "memory plugin:" line
		listening string // the sidecar's address; empty: no sidecar
		url       string // the main service's MEMORY_PLUGIN_URL
	}{
		{name: "nothing set runs the main service alone",
			mode: "none", url: "unset"},
		{name: "an external URL runs no sidecar and reaches the main service unchanged",
			env:  []string{"MEMORY_V2_CUTOVER=true", db, bin, "MEMORY_PLUGIN_URL=https://memory.example.com/base"},
			mode: "external", url: "https://memory.example.com/base"},
		{name: "MEMORY_PLUGIN_DISABLE=1 runs no sidecar even with cutover true",
			env:  []string{"MEMORY_V2_CUTOVER=true", db, bin, "MEMORY_PLUGIN_DISABLE=1"},
			mode: "disabled", url: "unset"},
		{name: "cutover true without a URL runs the sidecar on 127.0.0.1:9100 and exports its URL",
			env: []string{"MEMORY_V2_CUTOVER=true", db, bin}, private: true,
			mode: "bundled", listening: "127.0.0.1:9100", url: "http://127.0.0.1:9100"},
		{name: "a loopback URL without cutover runs the sidecar where it points and passes the URL unchanged",
			env:  []string{"MEMORY_PLUGIN_URL=http://localhost:" + port + "/", db, bin},
			mode: "bundled", listening: addr, url: "http://localhost:" + port + "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := start(t, inittest.PID1, inittest.Options{Env: tt.env, PrivateNetwork: tt.private}, reportURL("exit 0")...)
			if got := urlSeen(t, in); got != tt.url {
				t.Errorf("main service got MEMORY_PLUGIN_URL=[%s], want [%s]", got, tt.url)
			}
			if got := in.Wait(); got != 0 {
				t.Fatalf("tenant-init exited %d, want 0", got)
			}
			if plan := in.AwaitLogContaining("memory plugin: "); plan["mode"] != tt.mode {
				t.Errorf("plan line %v: want mode %s", plan, tt.mode)
			}
			started := in.LogField("service started", "service")
			healthy := in.Logs("memory-plugin: sidecar healthy")
			if tt.listening == "" {
				if !slices.Equal(started, []string{"main"}) || len(healthy) > 0 {
					t.Errorf("services started %v, healthy lines %v: want the main service alone, no gate", started, healthy)
				}
				return
			}
			if !slices.Equal(started, []string{"memory-plugin", "main"}) || len(healthy) != 1 {
				t.Errorf("services started %v, healthy lines %v: want the gated sidecar, then main", started, healthy)
			}
			if !slices.ContainsFunc(in.Stdout.All(), func(l string) bool { return strings.HasPrefix(l, "sidecar: listening on "+tt.listening+" ") }) {
				t.Errorf("the sidecar did not listen on %s; stdout:\n%s", tt.listening, strings.Join(in.Stdout.All(), "\n"))
			}
		})
	}
}

func TestTheSidecarRunsAsTheServicesUser(t *testing.T) {
	t.Parallel()
	inittest.NeedsRoot(t) // --user 1500:1600
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		env := optIn(freeLoopbackAddr(t), "SIDECAR_NOTIFY=1", "SIDECAR_READY_AFTER=400ms")
		var mainStatus, sidecar map[string]string
		var code int
		boot := func() (*inittest.Init, map[string]any) {
			in := start(t, mode, inittest.Options{Env: env}, "--user", "1500:1600", "sh", "-c",
				`grep -E '^(Uid|Gid|Groups|CapEff):' /proc/self/status; echo main: reported; exec sleep 600`)
			in.Stdout.AwaitContains(t, "main: reported")
			mainStatus = procStatus(in.Stdout.All())
			sidecar = procStatus(strings.Split(readFile(t, fmt.Sprintf("/proc/%d/status", sidecarPID(t, in))), "\n"))
			in.Signal(syscall.SIGTERM)
			code = in.Wait()
			return in, serviceLog(t, in, "memory-plugin: sidecar healthy", "memory-plugin")
		}
		in, healthy := boot()
		// The notify socket, opened as root, still hears the unprivileged sidecar.
		if _, healthy = bootNotified(t, in, healthy, boot); healthy["how"] != "notify" {
			t.Errorf("healthy line %v: want how=notify", healthy)
		}
		for field, want := range map[string]string{"Uid": "1500 1500 1500 1500", "Gid": "1600 1600 1600 1600", "Groups": "", "CapEff": "0000000000000000"} {
			if sidecar[field] != want || mainStatus[field] != want {
				t.Errorf("%s: sidecar %q, main service %q, want %q for both", field, sidecar[field], mainStatus[field], want)
			}
		}
		if code != 128+int(syscall.SIGTERM) {
			t.Fatalf("tenant-init exited %d, want 143", code)
		}
	})
}

// sidecarPID finds the running sidecar among the init's children, as the
// test sees pids (the init's namespace may be another).
func sidecarPID(t *testing.T, in *inittest.Init) int {
	t.Helper()
	init := in.PID()
	lists, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", init))
	if err != nil {
		t.Fatal(err)
	}
	for _, list := range lists {
		for _, field := range strings.Fields(readFile(t, list)) {
			var pid int
			fmt.Sscan(field, &pid)
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if argv0, _, _ := strings.Cut(string(cmdline), "\x00"); argv0 == sidecarBin {
				return pid
			}
		}
	}
	t.Fatalf("no child of tenant-init (pid %d) runs %s", init, sidecarBin)
	return 0
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHelpDocumentsEveryCutoverVariable(t *testing.T) {
	_, stdout, _ := runCLI(t, nil, "--help")
	for _, name := range cutoverVariables {
		if !strings.Contains(stdout, name) {
			t.Errorf("--help does not document %s", name)
		}
	}
}
