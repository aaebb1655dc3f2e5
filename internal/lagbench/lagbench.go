// Package lagbench is what the benchmarks of readiness lag share (the dead
// time between a sidecar turning healthy and what waits on it going ahead):
// when the modelled sidecar turns healthy, and how the lags are reported, so
// that the gate's own benchmark (healthgate) and the end-to-end one
// (cmd/tenant-init) sample alike and read alike in docs/benchmarks.md.
package lagbench

import (
	"slices"
	"testing"
	"time"
)

// Offsets are when the modelled sidecar turns healthy, counted from its start
// or from the start of the wait: spread evenly over one second, so that the
// shell loop's one-second period and the gate's schedule are sampled fairly.
// Run with -benchtime 10x to take each once.
var Offsets = []time.Duration{
	50 * time.Millisecond, 150 * time.Millisecond, 250 * time.Millisecond, 350 * time.Millisecond, 450 * time.Millisecond,
	550 * time.Millisecond, 650 * time.Millisecond, 750 * time.Millisecond, 850 * time.Millisecond, 950 * time.Millisecond,
}

// Offset is the offset of the i-th iteration.
func Offset(i int) time.Duration { return Offsets[i%len(Offsets)] }

// Report records the mean, median and max of lags in ms, as the metrics
// mean-ms, median-ms and max-ms followed by suffix, and the lags themselves in
// the log. The benchmark's own ns/op (the modelled start-up included) is
// suppressed: it says nothing about the lag.
func Report(b *testing.B, lags []time.Duration, suffix string) {
	b.Helper()
	if len(lags) == 0 {
		b.Fatal("lagbench: no lag measured")
	}
	lags = slices.Clone(lags)
	slices.Sort(lags)
	var sum time.Duration
	for _, l := range lags {
		sum += l
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(sum)/float64(len(lags)), "mean-ms"+suffix)
	b.ReportMetric(ms(lags[len(lags)/2]), "median-ms"+suffix)
	b.ReportMetric(ms(lags[len(lags)-1]), "max-ms"+suffix)
	b.ReportMetric(0, "ns/op")
	b.Logf("lags%s, sorted: %v", suffix, lags)
}
