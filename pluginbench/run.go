package pluginbench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentplatform/tenant-init/initbench"
)

// Options of one side-by-side run.
type Options struct {
	Memories      int           // memories loaded into each server
	RecallQueries int           // known-item queries asked by one client
	Unrelated     int           // unrelated queries asked by one client
	Clients       int           // concurrent clients of the throughput phases and the load
	BatchSize     int           // memories per batch request when loading ours
	BatchClients  int           // concurrent batch requests when loading ours
	Duration      time.Duration // length of each throughput phase, per server
	// Settings are the PostgreSQL settings of both clusters.
	Settings []string
	// PluginArgv runs our memory-plugin (configured by its environment);
	// BaselineArgv runs the baseline (given -database-url and -listen).
	PluginArgv, BaselineArgv []string
	GoRoot                   string // whose sources make the corpus
	LogDir                   string // servers' logs
	Progress                 io.Writer
}

// Figures are one server's results.
type Figures struct {
	Name string
	Load time.Duration
	// IndexReady is how long after the load ours' background vector index
	// held every memory (recall is measured from then on); 0 for the
	// baseline, which builds none.
	IndexReady    time.Duration
	LoadPerSec    float64
	P50, P99      time.Duration
	QueriesPerSec float64
	CommitsPerSec float64
	// RecallCPU and CommitCPU are the CPU time the server and its
	// PostgreSQL spent per operation of the throughput phases, what each
	// deferred (ours' vector indexing) included.
	RecallCPU, CommitCPU CPUSplit
	HitAt10              float64
	UnrelatedEmpty       float64
	RSS, HWM             int64 // bytes, after the run
	TableBytes           int64 // memory_records with indexes, and ours' memory_vectors and queue
}

// Run loads the corpus into the baseline and into ours, measures both and
// returns their figures (baseline first).
func Run(ctx context.Context, o Options) (base, ours Figures, err error) {
	say := func(format string, args ...any) {
		fmt.Fprintf(o.Progress, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	say("generating the corpus: %d memories over %d namespaces", o.Memories, NamespaceCount)
	// Extra sentences for the commit phase: distinct contents for 2,500
	// commits/s on each server (beyond that they repeat, see below).
	extra := max(1000, int(o.Duration.Seconds()*2500))
	c, err := Generate(o.GoRoot, o.Memories, extra, o.RecallQueries, o.Unrelated)
	if err != nil {
		return base, ours, err
	}

	say("starting the baseline and ours, each with its own PostgreSQL")
	b, err := startServer(ctx, "baseline", o.Settings, o.BaselineArgv, "", "", o.LogDir, o.Clients)
	if err != nil {
		return base, ours, err
	}
	defer b.stop()
	p, err := startServer(ctx, "ours", o.Settings, o.PluginArgv, "MEMORY_PLUGIN_DATABASE_URL", "MEMORY_PLUGIN_LISTEN_ADDR", o.LogDir, o.Clients)
	if err != nil {
		return base, ours, err
	}
	defer p.stop()
	base.Name, ours.Name = "baseline", "ours"

	for _, s := range []*server{b, p} {
		if err := parallel(ctx, o.Clients, len(c.Namespaces), func(ctx context.Context, i int) error {
			return s.client.putNamespace(ctx, c.Namespaces[i].Name, c.Namespaces[i].Kind)
		}); err != nil {
			return base, ours, fmt.Errorf("%s: namespaces: %w", s.name, err)
		}
	}

	say("loading the baseline: one POST per memory, %d clients", o.Clients)
	start := time.Now()
	if err := parallel(ctx, o.Clients, len(c.Memories), func(ctx context.Context, i int) error {
		return b.client.commit(ctx, c.Memories[i])
	}); err != nil {
		return base, ours, fmt.Errorf("baseline: load: %w", err)
	}
	base.Load = time.Since(start)
	say("loading ours: batches of %d, %d clients", o.BatchSize, o.BatchClients)
	start = time.Now()
	batches := (len(c.Memories) + o.BatchSize - 1) / o.BatchSize
	if err := parallel(ctx, o.BatchClients, batches, func(ctx context.Context, i int) error {
		return p.client.commitBatch(ctx, c.Memories[i*o.BatchSize:min((i+1)*o.BatchSize, len(c.Memories))])
	}); err != nil {
		return base, ours, fmt.Errorf("ours: load: %w", err)
	}
	ours.Load = time.Since(start)
	for _, f := range []*Figures{&base, &ours} {
		f.LoadPerSec = float64(len(c.Memories)) / f.Load.Seconds()
	}
	say("loaded: baseline %s, ours %s; waiting for ours' background vector index", base.Load.Round(time.Millisecond), ours.Load.Round(time.Millisecond))
	if ours.IndexReady, err = p.waitIndexed(ctx, int64(len(c.Memories)), time.Hour); err != nil {
		return base, ours, err
	}
	say("ours' vector index complete %s after the load", ours.IndexReady.Round(time.Millisecond))

	// Both databases start the measurements as autovacuum leaves a table
	// after a load: vacuumed and analysed. A GIN index's pending list
	// (fastupdate) holds the entries of the latest inserts until a vacuum or
	// the list's size limit moves them into the index, and every full-text
	// query reads the whole list: the baseline's (PostgreSQL's default limit,
	// 4 MB) was anywhere from empty to full at the end of a load, by chance,
	// and its recall p50 moved from 0.7 to 3.1 ms between two runs of the
	// same code. Vacuumed, both are measured at their best; ours caps its list
	// at 64 kB (migration 0004), the baseline's refills as it takes commits.
	start = time.Now()
	for _, s := range []*server{b, p} {
		if err := s.vacuum(ctx); err != nil {
			return base, ours, err
		}
	}
	say("both databases vacuumed and analysed in %s", time.Since(start).Round(time.Millisecond))

	// The mix: a known-item query, then a natural one.
	mix := make([]Query, 0, 2*len(c.Known))
	for i, q := range c.Known {
		mix = append(mix, q, c.Natural[i])
	}
	say("warming up, then recall with one client: %d queries each (half known-item), alternating blocks", len(mix))
	for _, s := range []*server{b, p} {
		for _, q := range mix[:min(200, len(mix))] {
			if _, err := s.client.search(ctx, q); err != nil {
				return base, ours, fmt.Errorf("%s: warm-up: %w", s.name, err)
			}
		}
	}
	lat := map[*server][]time.Duration{}
	hits := map[*server]int{}
	const block = 50
	for from := 0; from < len(mix); from += block {
		for _, s := range []*server{b, p} {
			for _, q := range mix[from:min(from+block, len(mix))] {
				t0 := time.Now()
				ids, err := s.client.search(ctx, q)
				if err != nil {
					return base, ours, fmt.Errorf("%s: recall: %w", s.name, err)
				}
				lat[s] = append(lat[s], time.Since(t0))
				if q.Want != "" && slices.Contains(ids, q.Want) {
					hits[s]++
				}
			}
		}
	}
	for s, f := range map[*server]*Figures{b: &base, p: &ours} {
		slices.Sort(lat[s])
		f.P50, f.P99 = percentile(lat[s], 0.50), percentile(lat[s], 0.99)
		f.HitAt10 = float64(hits[s]) / float64(len(c.Known))
		empty := 0
		for _, q := range c.Unrelated {
			ids, err := s.client.search(ctx, q)
			if err != nil {
				return base, ours, fmt.Errorf("%s: unrelated: %w", s.name, err)
			}
			if len(ids) == 0 {
				empty++
			}
		}
		f.UnrelatedEmpty = float64(empty) / float64(max(1, len(c.Unrelated)))
	}

	say("recall throughput: %d clients, 2 × %s each, alternating", o.Clients, o.Duration/2)
	var next atomic.Int64
	rates, cpu, err := alternate(ctx, b, p, o.Clients, o.Duration/2, func(ctx context.Context, s *server) error {
		_, err := s.client.search(ctx, mix[int(next.Add(1))%len(mix)])
		return err
	})
	if err != nil {
		return base, ours, fmt.Errorf("recall throughput: %w", err)
	}
	base.QueriesPerSec, ours.QueriesPerSec = rates[0], rates[1]
	base.RecallCPU, ours.RecallCPU = cpu[0], cpu[1]

	say("single commits: %d clients, 2 × %s each, alternating (PUT namespace, then POST memory)", o.Clients, o.Duration/2)
	// Each server counts its own commits, so both write the same memories
	// in the same order; past the corpus's extra sentences the contents
	// repeat under new ids (a fast idle machine outruns any fixed supply).
	written := map[*server]*atomic.Int64{b: new(atomic.Int64), p: new(atomic.Int64)}
	rates, cpu, err = alternate(ctx, b, p, o.Clients, o.Duration/2, func(ctx context.Context, s *server) error {
		i := int(written[s].Add(1))
		ns := c.Namespaces[i%len(c.Namespaces)]
		if err := s.client.putNamespace(ctx, ns.Name, ns.Kind); err != nil {
			return err
		}
		return s.client.commit(ctx, Memory{ID: fmt.Sprintf("%08x-0000-4000-9000-%012x", i, i), Namespace: ns.Name, Content: c.Extra[i%len(c.Extra)]})
	})
	if err != nil {
		return base, ours, fmt.Errorf("commits: %w", err)
	}
	base.CommitsPerSec, ours.CommitsPerSec = rates[0], rates[1]
	base.CommitCPU, ours.CommitCPU = cpu[0], cpu[1]

	for s, f := range map[*server]*Figures{b: &base, p: &ours} {
		if f.RSS, f.HWM, err = initbench.Memory(s.cmd.Process.Pid); err != nil {
			return base, ours, fmt.Errorf("%s: reading its memory: %w", s.name, err)
		}
		if f.TableBytes, err = querySize(ctx, s.dbURL, `SELECT pg_total_relation_size('memory_plugin.memory_records')
			+ coalesce(pg_total_relation_size(to_regclass('memory_plugin.memory_vectors')), 0)
			+ coalesce(pg_total_relation_size(to_regclass('memory_plugin.memory_vector_queue')), 0)`); err != nil {
			return base, ours, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return base, ours, nil
}

// settleLimit bounds how long a server may take to finish what a phase
// left it to do (server.settle).
const settleLimit = 10 * time.Minute

// alternate runs op with clients workers against a, then b, then a, then b,
// each for d, and returns the operations per second of each (over the
// timed halves) and the CPU each spent per operation. After each half the
// server settles before the other's half starts (server.settle): what it
// deferred (ours' vector indexing after commits) runs on its own time, not
// the other's, and counts in its CPU, not in its rate: a 201 is the
// client's wait, the indexing the machine's.
func alternate(ctx context.Context, a, b *server, clients int, d time.Duration, op func(context.Context, *server) error) ([2]float64, [2]CPUSplit, error) {
	var count [2]int64
	var spent [2]time.Duration
	var cpu [2]CPUSplit
	for range 2 {
		for i, s := range []*server{a, b} {
			before, err := s.cpu()
			if err != nil {
				return [2]float64{}, cpu, err
			}
			n, took, err := during(ctx, clients, d, func(ctx context.Context) error { return op(ctx, s) })
			if err != nil {
				return [2]float64{}, cpu, fmt.Errorf("%s: %w", s.name, err)
			}
			if err := s.settle(ctx, settleLimit); err != nil {
				return [2]float64{}, cpu, err
			}
			after, err := s.cpu()
			if err != nil {
				return [2]float64{}, cpu, err
			}
			count[i] += n
			spent[i] += took
			cpu[i] = cpu[i].add(after.sub(before))
		}
	}
	return [2]float64{float64(count[0]) / spent[0].Seconds(), float64(count[1]) / spent[1].Seconds()},
		[2]CPUSplit{cpu[0].per(count[0]), cpu[1].per(count[1])}, nil
}

// during runs op in clients loops until d has passed and returns how many
// completed and how long the phase took, the last operations included.
func during(ctx context.Context, clients int, d time.Duration, op func(context.Context) error) (int64, time.Duration, error) {
	var n atomic.Int64
	var wg sync.WaitGroup
	var first error
	var once sync.Once
	start := time.Now()
	stop := start.Add(d)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if err := op(ctx); err != nil {
					once.Do(func() { first = err })
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return n.Load(), time.Since(start), first
}

// parallel runs fn for 0..n-1 with workers goroutines and stops at the first
// error.
func parallel(ctx context.Context, workers, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	var first error
	var once sync.Once
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

func querySize(ctx context.Context, url, sql string) (int64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	return n, conn.QueryRow(ctx, sql).Scan(&n)
}
