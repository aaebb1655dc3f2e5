package healthgate_test

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/healthgate"
)

// readyOffsets are when the modelled sidecar turns healthy, counted from the
// start of the wait: spread evenly over one second so that the shell loop's
// one-second period, and the gate's schedule, are sampled fairly. Run with
// -benchtime 10x to take each once.
var readyOffsets = []time.Duration{
	50 * time.Millisecond, 150 * time.Millisecond, 250 * time.Millisecond, 350 * time.Millisecond, 450 * time.Millisecond,
	550 * time.Millisecond, 650 * time.Millisecond, 750 * time.Millisecond, 850 * time.Millisecond, 950 * time.Millisecond,
}

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
		became := turnHealthy(b, s, readyOffsets[i%len(readyOffsets)], notify)
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
	report(b, lags)
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
		became := turnHealthy(b, s, readyOffsets[i%len(readyOffsets)], false)
		err := cmd.Wait()
		passed := time.Now()
		if err != nil {
			b.Fatalf("shell loop: %v", err)
		}
		lags = append(lags, passed.Sub(<-became))
	}
	report(b, lags)
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

func report(b *testing.B, lags []time.Duration) {
	slices.Sort(lags)
	var sum time.Duration
	for _, l := range lags {
		sum += l
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(sum)/float64(len(lags)), "ms-mean-ready-to-pass")
	b.ReportMetric(ms(lags[len(lags)/2]), "ms-median")
	b.ReportMetric(ms(lags[len(lags)-1]), "ms-max")
	b.ReportMetric(0, "ns/op") // the op includes the modelled start-up time: meaningless
}
