package healthgate_test

import (
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/healthgate"
)

// The default schedule notices readiness within 10 ms while a sidecar is
// likely to turn ready, then backs off to 250 ms, and starts over at Reset.
func TestDefaultScheduleIsSteadyThenBacksOff(t *testing.T) {
	b := healthgate.DefaultSchedule()
	for round := range 2 {
		var got []time.Duration
		for range healthgate.DefaultSteadyProbes + 20 {
			got = append(got, b.NextBackOff())
		}
		for i, d := range got[:healthgate.DefaultSteadyProbes] {
			if d != healthgate.DefaultFirstInterval {
				t.Fatalf("round %d: probe %d comes after %v, want the steady %v", round, i, d, healthgate.DefaultFirstInterval)
			}
		}
		after := got[healthgate.DefaultSteadyProbes:]
		for i := 1; i < len(after); i++ {
			if after[i] < after[i-1] || after[i] > healthgate.DefaultMaxInterval {
				t.Fatalf("round %d: after the steady probes, intervals %v do not grow to at most %v", round, after, healthgate.DefaultMaxInterval)
			}
		}
		if last := after[len(after)-1]; last != healthgate.DefaultMaxInterval {
			t.Fatalf("round %d: the interval reaches %v, want the cap %v", round, last, healthgate.DefaultMaxInterval)
		}
		b.Reset()
	}
}
