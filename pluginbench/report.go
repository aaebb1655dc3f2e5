package pluginbench

import (
	"fmt"
	"io"
	"time"
)

// A goal of issue 12: ours against the baseline.
type goal struct {
	figure string
	want   string
	ratio  float64 // ours ÷ baseline
	met    bool
}

// WriteReport writes the figures side by side as a Markdown table, then the
// goals with the measured ratio of each.
func WriteReport(w io.Writer, memories int, base, ours Figures) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	mb := func(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
	fmt.Fprintf(w, "| figure (%d memories, %d namespaces) | baseline (platform plugin) | ours | ours ÷ baseline |\n", memories, NamespaceCount)
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	row := func(name, b, o string, ratio float64) {
		fmt.Fprintf(w, "| %s | %s | %s | %.2f |\n", name, b, o, ratio)
	}
	row("recall p50, one client", ms(base.P50), ms(ours.P50), ratio(ours.P50.Seconds(), base.P50.Seconds()))
	row("recall p99, one client", ms(base.P99), ms(ours.P99), ratio(ours.P99.Seconds(), base.P99.Seconds()))
	row("recall throughput, 8 clients", fmt.Sprintf("%.0f queries/s", base.QueriesPerSec), fmt.Sprintf("%.0f queries/s", ours.QueriesPerSec), ratio(ours.QueriesPerSec, base.QueriesPerSec))
	row("single commits/s, 8 clients", fmt.Sprintf("%.0f", base.CommitsPerSec), fmt.Sprintf("%.0f", ours.CommitsPerSec), ratio(ours.CommitsPerSec, base.CommitsPerSec))
	cpu := func(c CPUSplit) string {
		us := func(d time.Duration) int64 { return d.Microseconds() }
		return fmt.Sprintf("%d µs (%d + %d)", us(c.Total()), us(c.Server), us(c.Postgres))
	}
	row("CPU per recall: server + PostgreSQL", cpu(base.RecallCPU), cpu(ours.RecallCPU), ratio(ours.RecallCPU.Total().Seconds(), base.RecallCPU.Total().Seconds()))
	row("CPU per commit, deferred indexing included", cpu(base.CommitCPU), cpu(ours.CommitCPU), ratio(ours.CommitCPU.Total().Seconds(), base.CommitCPU.Total().Seconds()))
	row("load, memories/s", fmt.Sprintf("%.0f (one per request, %s)", base.LoadPerSec, base.Load.Round(100*time.Millisecond)),
		fmt.Sprintf("%.0f (batches, %s)", ours.LoadPerSec, ours.Load.Round(100*time.Millisecond)), ratio(ours.LoadPerSec, base.LoadPerSec))
	fmt.Fprintf(w, "| vector index complete after the load (recall measured after it) | none | %s | |\n", ours.IndexReady.Round(100*time.Millisecond))
	row("known-item hit@10", fmt.Sprintf("%.3f", base.HitAt10), fmt.Sprintf("%.3f", ours.HitAt10), ratio(ours.HitAt10, base.HitAt10))
	row("unrelated queries answered empty", fmt.Sprintf("%.3f", base.UnrelatedEmpty), fmt.Sprintf("%.3f", ours.UnrelatedEmpty), ratio(ours.UnrelatedEmpty, base.UnrelatedEmpty))
	row("plugin RSS after the run (peak)", fmt.Sprintf("%s (%s)", mb(base.RSS), mb(base.HWM)), fmt.Sprintf("%s (%s)", mb(ours.RSS), mb(ours.HWM)), ratio(float64(ours.RSS), float64(base.RSS)))
	row("table + indexes", mb(base.TableBytes), mb(ours.TableBytes), ratio(float64(ours.TableBytes), float64(base.TableBytes)))

	goals := []goal{
		{"recall p99", "≤ 0.8×", ratio(ours.P99.Seconds(), base.P99.Seconds()), ours.P99.Seconds() <= 0.8*base.P99.Seconds()},
		{"recall throughput, 8 clients", "≥ 1.2×", ratio(ours.QueriesPerSec, base.QueriesPerSec), ours.QueriesPerSec >= 1.2*base.QueriesPerSec},
		{"single commits/s, 8 clients", "≥ 1.2×", ratio(ours.CommitsPerSec, base.CommitsPerSec), ours.CommitsPerSec >= 1.2*base.CommitsPerSec},
		{"bulk load", "≥ 4× and ≥ 5,000/s", ratio(ours.LoadPerSec, base.LoadPerSec), ours.LoadPerSec >= 4*base.LoadPerSec && ours.LoadPerSec >= 5000},
		{"known-item hit@10", "≥ 0.99", ours.HitAt10, ours.HitAt10 >= 0.99},
		{"unrelated queries empty", "= 1", ours.UnrelatedEmpty, ours.UnrelatedEmpty == 1},
		{"plugin RSS", "≤ 1×", ratio(float64(ours.RSS), float64(base.RSS)), ours.RSS <= base.RSS},
	}
	fmt.Fprintln(w, "\n| goal (issue 12) | wanted | measured | met |")
	fmt.Fprintln(w, "|---|---|---:|---|")
	for _, g := range goals {
		met := "no"
		if g.met {
			met = "yes"
		}
		fmt.Fprintf(w, "| %s | %s | %.2f | %s |\n", g.figure, g.want, g.ratio, met)
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
