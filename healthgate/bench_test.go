package healthgate_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/healthgate"
	"github.com/agentplatform/tenant-init/internal/lagbench"
)

// BenchmarkReadyToPass measures the dead time between a sidecar turning
// healthy and the main services being let through: by the gate's polling,
// by READY=1 (polling still running), and by the shell entrypoint's loop
// (`curl; sleep 1`, thirty times) run by a real sh against the same server.
func BenchmarkReadyToPass(b *testing.B) {
	b.Run("gate-probe", func(b *testing.B) { benchGate(b, false) })
	b.Run("gate-notify", func(b *testing.B) { benchGate(b, true) })
	b.Run("shell-sleep-1", benchShell)
}

func benchGate(b *testing.B, notify bool) {
	s := newSidecar(b)
	g, err := healthgate.New(s.URL, 30*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	b.Setenv("NOTIFY_SOCKET", strings.TrimPrefix(g.Env()[0], "NOTIFY_SOCKET="))
	var lags []time.Duration
	byNotify := 0
	for i := 0; b.Loop(); i++ {
		s.ready.Store(false)
		became := turnHealthy(b, s, lagbench.Offset(i), notify)
		how, err := g.Wait(context.Background(), nil)
		passed := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		if how == "notify" {
			byNotify++
		}
		lags = append(lags, passed.Sub(<-became))
	}
	lagbench.Report(b, lags, "")
	if notify {
		// A poll may land between the flip to 200 and the datagram.
		b.ReportMetric(100*float64(byNotify)/float64(len(lags)), "%-by-notify")
	}
}

func benchShell(b *testing.B) {
	s := newSidecar(b)
	var lags []time.Duration
	for i := 0; b.Loop(); i++ {
		s.ready.Store(false)
		cmd := exec.Command("sh", "-c", `for i in $(seq 1 30); do curl -fsS -o /dev/null "$URL" && exit 0; sleep 1; done; exit 1`)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "URL=" + s.URL + "/v1/health"}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		became := turnHealthy(b, s, lagbench.Offset(i), false)
		err := cmd.Wait()
		passed := time.Now()
		if err != nil {
			b.Fatalf("shell loop: %v", err)
		}
		lags = append(lags, passed.Sub(<-became))
	}
	lagbench.Report(b, lags, "")
}

// turnHealthy models a sidecar that is ready after offset: it flips the
// server to 200, optionally sends READY=1, and tells when it did.
func turnHealthy(b *testing.B, s *sidecar, offset time.Duration, notify bool) <-chan time.Time {
	became := make(chan time.Time, 1)
	time.AfterFunc(offset, func() {
		s.ready.Store(true)
		became <- time.Now()
		if notify {
			if err := healthgate.Notify("READY=1"); err != nil {
				b.Error(err)
			}
		}
	})
	return became
}
