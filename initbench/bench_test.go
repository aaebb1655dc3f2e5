package initbench_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/initbench"
	"github.com/agentplatform/tenant-init/internal/lagbench"
)

// TestMain doubles as the stamp service of the forwarding measurement.
func TestMain(m *testing.M) {
	if os.Getenv(initbench.StampEnv) == "1" {
		os.Exit(initbench.Stamp())
	}
	os.Exit(m.Run())
}

// The goals of issue 13, against tini measured in the same run.
const (
	goalStartup  = 1.5                   // × tini's median `-- true`
	goalForward  = 1.1                   // × tini's p50 forwarding latency
	goalRSS      = 4 << 20               // bytes, VmRSS while a service runs
	goalReadyLag = 10 * time.Millisecond // median, polled sidecar
)

// BenchmarkAgainstTini measures tenant-init and tini side by side and prints
// every figure with its ratio to tini's and to the goal. Run it with
// `make bench-init`, which builds bin/tenant-init as the image does and passes
// it in INITBENCH_TENANT_INIT. Needs root and tini (apt-get install tini).
func BenchmarkAgainstTini(b *testing.B) {
	path := os.Getenv("INITBENCH_TENANT_INIT")
	if path == "" {
		b.Fatal("INITBENCH_TENANT_INIT is unset: run `make bench-init`, which builds bin/tenant-init and sets it")
	}
	tini, err := initbench.Tini()
	if err != nil {
		b.Fatal(err)
	}
	ti := initbench.TenantInit(path)
	floor, err := initbench.GoFloor(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	inits := []initbench.Init{tini, ti, floor}
	runs, samples := 200, 1000
	var out strings.Builder
	// Each row: tini, tenant-init and its ratio to tini against the goal, then
	// the Go floor (initbench/testdata/goinit) and its ratio to tini: what of
	// tenant-init's distance no Go init could close.
	row := func(what, tiniFig, tiFig, ratio, goal string, met bool, floorFig, floorRatio string) {
		verdict := "MISSED"
		if met {
			verdict = "met"
		}
		if goal == "" {
			verdict = ""
		}
		fmt.Fprintf(&out, "| %s | %s | %s | %s | %s %s | %s | %s |\n", what, tiniFig, tiFig, ratio, goal, verdict, floorFig, floorRatio)
	}
	fmt.Fprintf(&out, "\n| measure | tini | tenant-init | ratio | goal | Go floor | its ratio |\n| --- | ---: | ---: | ---: | --- | ---: | ---: |\n")

	for b.Loop() {
		for _, mode := range []initbench.Mode{initbench.PID1, initbench.Subreaper} {
			times, err := initbench.Startup(inits, mode, runs)
			if err != nil {
				b.Fatal(err)
			}
			t, m, f := median(times[tini.Name]), median(times[ti.Name]), median(times[floor.Name])
			r := float64(m) / float64(t)
			row(fmt.Sprintf("`-- true` as %s, median of %d", mode, runs), ms(t), ms(m), fmt.Sprintf("%.2f×", r), fmt.Sprintf("≤ %.1f×", goalStartup), r <= goalStartup,
				ms(f), fmt.Sprintf("%.2f×", float64(f)/float64(t)))
			b.ReportMetric(r, "startup-ratio-"+strings.ReplaceAll(mode.String(), " ", ""))
		}

		lat, rss, err := initbench.Forwarding(inits, []string{os.Args[0], "-test.run=^$", "-test.bench=^$"}, samples)
		if err != nil {
			b.Fatal(err)
		}
		for _, q := range []struct {
			name string
			p    float64
		}{{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}} {
			t, m, f := quantile(lat[tini.Name], q.p), quantile(lat[ti.Name], q.p), quantile(lat[floor.Name], q.p)
			r := float64(m) / float64(t)
			goal := ""
			if q.name == "p50" {
				goal = fmt.Sprintf("≤ %.1f×", goalForward)
				b.ReportMetric(r, "forward-p50-ratio")
			}
			row(fmt.Sprintf("signal forwarded, %s of %d", q.name, samples), us(t), us(m), fmt.Sprintf("%.2f×", r), goal, r <= goalForward,
				us(f), fmt.Sprintf("%.2f×", float64(f)/float64(t)))
		}
		row("VmRSS while a service runs", mib(rss[tini.Name]), mib(rss[ti.Name]), fmt.Sprintf("%.1f×", float64(rss[ti.Name])/float64(rss[tini.Name])),
			"≤ "+mib(goalRSS), rss[ti.Name] <= goalRSS, mib(rss[floor.Name]), fmt.Sprintf("%.1f×", float64(rss[floor.Name])/float64(rss[tini.Name])))
		b.ReportMetric(float64(rss[ti.Name])/(1<<20), "rss-MiB")

		tiniSize, err := initbench.Size(tini.Path)
		if err != nil {
			b.Fatal(err)
		}
		tiSize, err := initbench.Size(ti.Path)
		if err != nil {
			b.Fatal(err)
		}
		floorSize, err := initbench.Size(floor.Path)
		if err != nil {
			b.Fatal(err)
		}
		row("binary size (tini dynamic)", mib(tiniSize), mib(tiSize), fmt.Sprintf("%.0f×", float64(tiSize)/float64(tiniSize)), "", true,
			mib(floorSize), fmt.Sprintf("%.0f×", float64(floorSize)/float64(tiniSize)))

		for _, shape := range []initbench.Shape{initbench.ListensWhenReady, initbench.ServesUnready} {
			// Each offset three times: a median of 30.
			res, err := initbench.Readiness(shape, slices.Concat(lagbench.Offsets, lagbench.Offsets, lagbench.Offsets))
			if err != nil {
				b.Fatal(err)
			}
			m := median(res.Lags)
			perSec := float64(res.Requests) / res.Waited.Seconds()
			row(fmt.Sprintf("polled readiness noticed, median (sidecar %s; %.0f HTTP requests/s while waiting)", shape, perSec),
				"n/a", ms(m), "", "≤ "+ms(goalReadyLag), m <= goalReadyLag, "", "")
			b.Logf("readiness lags (%s), sorted: %v", shape, sorted(res.Lags))
		}
	}
	b.ReportMetric(0, "ns/op")
	fmt.Print(out.String()) // whole: a benchmark's log is cut at ten lines

}

func sorted(d []time.Duration) []time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d
}

func median(d []time.Duration) time.Duration { return quantile(d, 0.5) }

func quantile(d []time.Duration, q float64) time.Duration {
	d = sorted(d)
	return d[int(q*float64(len(d)-1)+0.5)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }
func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
