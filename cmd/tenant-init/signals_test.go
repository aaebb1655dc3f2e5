package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/internal/inittest"
	"golang.org/x/sys/unix"
)

func TestFaultSignalsAndSIGPROFSentToTheInitAreNotForwardedAndDoNotKillIt(t *testing.T) {
	faults := []string{"SIGSEGV", "SIGABRT", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP", "SIGSYS"}
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		// A service sends them, from inside the namespace, as a stray
		// `kill -ABRT 1` in a script would; SIGPROF too, which Go's runtime
		// consumes: neither kills the init nor is forwarded.
		sender := `name=sender,cmd=sh -c 'for s in SEGV ABRT BUS FPE ILL TRAP SYS PROF; do kill -s $s $PPID; done; echo sent; exec sleep 1000'`
		in := start(t, mode, inittest.Options{}, append([]string{"--allow-root", "--service", sender, "--"}, helper("graceful")...)...)
		in.Stdout.AwaitContains(t, "ready")
		in.Stdout.AwaitContains(t, "sent")
		seen := map[string]bool{}
		in.Stderr.Await(t, func(line string) bool {
			if e, ok := inittest.ParseLog(line); ok && e["msg"] == "fault signal sent to the init: ignored" {
				seen[fmt.Sprint(e["signal"])] = true
			}
			return len(seen) == len(faults)
		})
		for _, f := range faults {
			if !seen[f] {
				t.Errorf("no 'fault signal sent to the init: ignored' line for %s", f)
			}
		}
		in.Signal(syscall.SIGTERM)
		// The main service, a Go program, would have died of a forwarded SIGSEGV
		// with status 2; it exits 0 on SIGTERM.
		if got := in.Wait(); got != 0 {
			t.Fatalf("tenant-init exited %d, want 0 (the main service's graceful exit); log:\n%s", got, strings.Join(in.Stderr.All(), "\n"))
		}
		if fwd := in.Logs("signal forwarded"); len(fwd) > 0 {
			t.Fatalf("fault signals were forwarded: %v", fwd)
		}
	})
}

func TestSignalsIgnoredAtStartStayIgnoredForTheServicesAndAreNotForwarded(t *testing.T) {
	tests := []struct {
		name    string
		wrapper []string // execs the init, given as its arguments
		ignored []syscall.Signal
	}{
		{name: "after trap '' HUP INT TSTP; exec tenant-init", wrapper: []string{"sh", "-c", `trap '' HUP INT TSTP; exec "$@"`, "sh"},
			ignored: []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGTSTP}},
		{name: "under nohup", wrapper: []string{"nohup"}, ignored: []syscall.Signal{syscall.SIGHUP}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, mode inittest.Mode) {
				argv := append(append(append([]string{}, tt.wrapper...), tenantInit, "--allow-root", "--"), helper("dispositions")...)
				in := inittest.Start(t, mode, inittest.Options{}, argv...)
				text, _ := strings.CutPrefix(in.Stdout.AwaitContains(t, "ignored="), "ignored=")
				mask, err := strconv.ParseUint(text, 16, 64)
				if err != nil {
					t.Fatalf("main service says %q", text)
				}
				var names []string
				for _, sig := range tt.ignored {
					names = append(names, unix.SignalName(sig))
					if mask&(1<<(sig-1)) == 0 {
						t.Errorf("the main service does not ignore %s (SigIgn %x)", unix.SignalName(sig), mask)
					}
				}
				if got := in.AwaitLog("signals ignored since start-up: kept ignored, not forwarded")["signals"]; fmt.Sprint(got) != fmt.Sprint(names) {
					t.Errorf("the init lists %v as ignored since start-up, want %v", got, names)
				}
				// SIGHUP is ignored by the init too: the kernel drops it. SIGUSR1
				// after it is forwarded, so its line comes after any for SIGHUP.
				in.Signal(syscall.SIGHUP)
				in.Signal(syscall.SIGUSR1)
				in.Stderr.Await(t, func(line string) bool {
					e, ok := inittest.ParseLog(line)
					return ok && e["msg"] == "signal forwarded" && e["signal"] == "SIGUSR1"
				})
				if fwd := in.LogField("signal forwarded", "signal"); !slices.Equal(fwd, []string{"SIGUSR1"}) {
					t.Errorf("forwarded %v, want only SIGUSR1", fwd)
				}
				in.Signal(syscall.SIGTERM)
				if got := in.Wait(); got != 0 {
					t.Fatalf("tenant-init exited %d, want 0", got)
				}
			})
		})
	}
}

func TestAStormOfSignalsLosesNeitherSIGCHLDNorSIGTERM(t *testing.T) {
	const atLeast, orphans = 3000, 200
	const grace = 5 * time.Second
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		in := start(t, mode, inittest.Options{}, append([]string{"--allow-root", "--grace", grace.String(), "--"},
			helper("storm-target", strconv.Itoa(orphans))...)...)
		in.Stdout.AwaitContains(t, "ready")
		pid := in.PID()

		// The orphans exit while the storm blows, and it blows on until they
		// are all reaped: a lost SIGCHLD would leave the last ones unreaped.
		s := blow(pid, atLeast)
		in.Stdout.AwaitContains(t, fmt.Sprintf("orphaned %d", orphans))
		in.Stderr.Await(t, func(line string) bool {
			e, ok := inittest.ParseLog(line)
			return ok && e["msg"] == "orphans reaped" && e["total"] == float64(orphans)
		})
		if n := s.calm(); n < atLeast {
			t.Fatalf("only %d signals sent", n)
		}
		if zombies := zombieChildren(t, pid); len(zombies) > 0 {
			t.Fatalf("zombie children of tenant-init remain: %v", zombies)
		}

		// SIGTERM in the middle of another storm.
		s = blow(pid, atLeast)
		select {
		case <-s.half:
		case <-s.done:
		}
		sent := time.Now()
		in.Signal(syscall.SIGTERM)
		s.calm()
		in.Stdout.AwaitContains(t, "graceful exit")
		code := in.Wait()
		took := time.Since(sent)
		if code != 0 {
			t.Fatalf("tenant-init exited %d, want 0 (the main service's graceful exit)", code)
		}
		if took >= grace {
			t.Fatalf("stopping took %v, not within the grace %v", took, grace)
		}
		if killed := in.Logs("grace expired: killed"); len(killed) > 0 {
			t.Fatalf("the SIGTERM was late or lost: %v", killed)
		}
		if last := in.Logs("exiting"); len(last) != 1 || last[0]["orphans_reaped"] != float64(orphans) {
			t.Fatalf("want orphans_reaped=%d in the exit line, got %v", orphans, last)
		}
	})
}

// storm is SIGUSR1, SIGHUP and SIGWINCH sent to a process by two senders as
// fast as they can, until calmed once n are sent.
type storm struct {
	sent         atomic.Int64
	stop         atomic.Bool
	half, enough chan struct{} // closed at n/2 and n signals sent
	done         chan struct{} // closed when the senders are done
}

func blow(pid int, n int64) *storm {
	s := &storm{half: make(chan struct{}), enough: make(chan struct{}), done: make(chan struct{})}
	sigs := []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGWINCH}
	var senders sync.WaitGroup
	for range 2 {
		senders.Go(func() {
			for i := 0; !s.stop.Load(); i++ {
				if syscall.Kill(pid, sigs[i%len(sigs)]) != nil {
					return // the init is gone
				}
				switch s.sent.Add(1) {
				case n / 2:
					close(s.half)
				case n:
					close(s.enough)
				}
			}
		})
	}
	go func() { senders.Wait(); close(s.done) }()
	return s
}

// calm stops the storm once n signals are sent, or the init is gone, and
// returns how many were.
func (s *storm) calm() int64 {
	select {
	case <-s.enough:
	case <-s.done:
	}
	s.stop.Store(true)
	<-s.done
	return s.sent.Load()
}

func TestOnATerminalTheInitShowsOnlyWarningsUnlessAskedForMore(t *testing.T) {
	const warning = "running services as root, as allowed"
	tests := []struct {
		name      string
		env, args []string
		lifecycle bool
	}{
		{name: "by default the screen shows the program's lines and the init's warnings"},
		{name: "TENANT_INIT_LOG_LEVEL=info brings the lifecycle lines back", env: []string{"TENANT_INIT_LOG_LEVEL=info"}, lifecycle: true},
		{name: "--log-level info brings the lifecycle lines back", args: []string{"--log-level", "info"}, lifecycle: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, mode inittest.Mode) {
				args := append(append([]string{"--allow-root"}, tt.args...), "--", "sh", "-c", "echo from the program")
				in := start(t, mode, inittest.Options{Terminal: true, TerminalOutput: true, Env: tt.env}, args...)
				if got := in.Wait(); got != 0 {
					t.Fatalf("tenant-init exited %d, want 0", got)
				}
				screen := strings.Join(in.Stdout.All(), "\n")
				for _, want := range []string{"from the program", warning} {
					if !strings.Contains(screen, want) {
						t.Errorf("the screen lacks %q:\n%s", want, screen)
					}
				}
				if got := strings.Contains(screen, "service started"); got != tt.lifecycle {
					t.Errorf("lifecycle lines on the screen: %v, want %v:\n%s", got, tt.lifecycle, screen)
				}
			})
		})
	}
}
