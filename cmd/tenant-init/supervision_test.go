package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/internal/inittest"
	"golang.org/x/sys/unix"
)

func TestExitStatusOfTheMainServicePassesThrough(t *testing.T) {
	codes := []int{0, 1, 2, 3, 42, 125, 126, 127, 128, 129, 200, 254, 255}
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		for _, code := range codes {
			t.Run(fmt.Sprintf("exit %d is exit %d", code, code), func(t *testing.T) {
				in := start(t, mode, inittest.Options{}, "--allow-root", "sh", "-c", fmt.Sprintf("exit %d", code))
				if got := in.Wait(); got != code {
					t.Fatalf("tenant-init exited %d, want %d", got, code)
				}
				exited := in.Logs("service exited")
				if len(exited) != 1 || exited[0]["code"] != float64(code) || exited[0]["service"] != "main" {
					t.Fatalf("want one 'service exited' line for main with code %d, got %v", code, exited)
				}
			})
		}
	})
}

func TestSignalsReachTheMainServiceGroupAndItsDeathIsExit128PlusN(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		for _, sig := range testSignals {
			name := unix.SignalName(sig)
			t.Run(name+" reaches leader and member, exit "+strconv.Itoa(128+int(sig)), func(t *testing.T) {
				in := start(t, mode, inittest.Options{}, append([]string{"--allow-root", "--"}, helper("signals")...)...)
				in.Stdout.AwaitContains(t, "leader ready")
				in.Stdout.AwaitContains(t, "member ready")
				in.Signal(sig)
				in.Stdout.AwaitContains(t, "leader got "+name)
				in.Stdout.AwaitContains(t, "member got "+name)
				if got, want := in.Wait(), 128+int(sig); got != want {
					t.Fatalf("tenant-init exited %d, want %d", got, want)
				}
				if sig != syscall.SIGTERM && sig != syscall.SIGINT {
					fwd := in.Logs("signal forwarded")
					if len(fwd) == 0 || fwd[0]["signal"] != name || fwd[0]["service"] != "main" {
						t.Fatalf("want a 'signal forwarded' line for %s to main, got %v", name, fwd)
					}
				}
			})
		}
	})
}

func TestFiveHundredOrphansLeaveNoZombie(t *testing.T) {
	const n = 500
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		in := start(t, mode, inittest.Options{}, append([]string{"--allow-root", "--"}, helper("orphans", strconv.Itoa(n))...)...)
		in.Stdout.AwaitContains(t, fmt.Sprintf("orphaned %d", n))
		in.Stderr.Await(t, func(line string) bool {
			e, ok := inittest.ParseLog(line)
			return ok && e["msg"] == "orphans reaped" && e["total"] == float64(n)
		})
		if zombies := zombieChildren(t, in.PID()); len(zombies) > 0 {
			t.Fatalf("zombie children of tenant-init remain: %v", zombies)
		}
		in.Signal(syscall.SIGTERM)
		if got := in.Wait(); got != 128+int(syscall.SIGTERM) {
			t.Fatalf("tenant-init exited %d, want 143", got)
		}
		last := in.Logs("exiting")
		if len(last) != 1 || last[0]["orphans_reaped"] != float64(n) {
			t.Fatalf("want orphans_reaped=%d in the exit line, got %v", n, last)
		}
	})
}

// zombieChildren lists the children of pid in state Z, read from /proc.
func zombieChildren(t *testing.T, pid int) []string {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var zombies []string
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) > 1 && fields[0] == "Z" && fields[1] == strconv.Itoa(pid) {
			zombies = append(zombies, path)
		}
	}
	return zombies
}

func TestAServiceIgnoringSIGTERMIsKilledAfterTheGrace(t *testing.T) {
	const grace = 500 * time.Millisecond
	const bound = 1500 * time.Millisecond // reaping and exiting on a busy 2-core machine
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		in := start(t, mode, inittest.Options{}, append([]string{"--allow-root", "--grace", grace.String(), "--"}, helper("ignore-term")...)...)
		in.Stdout.AwaitContains(t, "ready")
		sent := time.Now()
		in.Signal(syscall.SIGTERM)
		code := in.Wait()
		took := time.Since(sent)
		if code != 128+int(syscall.SIGKILL) {
			t.Fatalf("tenant-init exited %d, want 137 (main SIGKILLed)", code)
		}
		if took < grace || took > grace+bound {
			t.Fatalf("shutdown took %v, want between the grace %v and %v", took, grace, grace+bound)
		}
		killed := in.Logs("grace expired: killed")
		if len(killed) != 1 || killed[0]["service"] != "main" {
			t.Fatalf("want one 'grace expired: killed' line for main, got %v", killed)
		}
	})
}

func TestASecondServiceExitingStopsTheMainOneGracefullyAndGivesItsStatus(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		dir := t.TempDir()
		fifo := filepath.Join(dir, "go")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		second := fmt.Sprintf(`name=second,dir=%s,cmd=sh -c "pwd; read line < %s; exit 3"`, dir, fifo)
		in := start(t, mode, inittest.Options{}, append([]string{"--allow-root", "--service", second, "--"}, helper("graceful")...)...)
		in.Stdout.AwaitContains(t, "ready")
		in.Stdout.AwaitContains(t, dir) // the second service runs in its dir
		if err := os.WriteFile(fifo, []byte("go\n"), 0); err != nil {
			t.Fatal(err)
		}
		in.Stdout.AwaitContains(t, "graceful exit")
		if got := in.Wait(); got != 3 {
			t.Fatalf("tenant-init exited %d, want 3, the second service's status", got)
		}
		if down := in.AwaitLog("shutting down"); down["reason"] != "second exited" {
			t.Fatalf("shutdown reason %v, want 'second exited'", down["reason"])
		}
		if killed := in.Logs("grace expired: killed"); len(killed) > 0 {
			t.Fatalf("the main service was killed, not stopped gracefully: %v", killed)
		}
	})
}

func TestAsPID1LeftoverProcessesGetSIGTERMBeforeTheEnd(t *testing.T) {
	in := start(t, inittest.PID1, inittest.Options{}, append([]string{"--allow-root", "--"}, helper("daemon")...)...)
	in.Stdout.AwaitContains(t, "daemon got SIGTERM")
	if got := in.Wait(); got != 0 {
		t.Fatalf("tenant-init exited %d, want 0 (the main service's status)", got)
	}
	if phases := in.LogField("stopping", "phase"); !slices.Contains(phases, "remaining processes") {
		t.Fatalf("want a 'stopping' line for the remaining processes, got phases %v", phases)
	}
	if killed := in.Logs("grace expired: killed"); len(killed) > 0 {
		t.Fatalf("the leftover process was killed, not warned: %v", killed)
	}
}

func TestCtrlCOnTheTerminalReachesTheMainService(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		in := start(t, mode, inittest.Options{Terminal: true}, append([]string{"--allow-root", "--"}, helper("terminal")...)...)
		if got := in.Stdout.AwaitContains(t, "foreground="); got != "foreground=true" {
			t.Fatalf("main service says %q: it does not own the terminal", got)
		}
		if got := in.Stdout.AwaitContains(t, "ignores "); got != "ignores SIGTTIN=false SIGTTOU=false" {
			t.Fatalf("main service says %q: it inherited the init's ignored job-control signals", got)
		}
		if _, err := in.Terminal.Write([]byte{3}); err != nil { // ^C
			t.Fatal(err)
		}
		if got := in.Wait(); got != 128+int(syscall.SIGINT) {
			t.Fatalf("tenant-init exited %d, want 130", got)
		}
		if got := in.Logs("signal received"); len(got) > 0 {
			t.Fatalf("the init received Ctrl-C itself; it belongs to the main service: %v", got)
		}
	})
}
