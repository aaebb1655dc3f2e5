package plugin

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsPath is where the plugin serves its Prometheus metrics, on its own
// listener (loopback by default), behind the token when one is set.
const MetricsPath = "/metrics"

// metrics are the plugin's Prometheus series, in a registry of its own: the
// global default registry would mix in whatever else the process links, and
// two Services in one process (the tests) would collide in it.
type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	embedding *prometheus.HistogramVec
}

// Latency buckets from 0.5 ms to 5 s: a recall takes milliseconds, a batch
// of 500 up to seconds, and the client gives up at about 2 s.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

func newMetrics(pool *pgxpool.Pool) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memory_plugin_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "memory_plugin_http_request_duration_seconds",
			Help:    "Time from the request's arrival to the end of the answer, by route pattern, method and status code.",
			Buckets: latencyBuckets,
		}, []string{"route", "method", "code"}),
		embedding: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "memory_plugin_embedding_duration_seconds",
			Help:    "Time to embed one call's texts (a commit's, a batch's or a query's), by embedder (builtin or provider) and outcome (ok or error).",
			Buckets: latencyBuckets,
		}, []string{"embedder", "outcome"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.embedding, poolCollector{pool},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// registerVectorIndex adds the background vector indexer's series.
func (m *metrics) registerVectorIndex(v *vectorIndexer) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "memory_plugin_vector_index_pending",
			Help: "Memories written but not yet in the HNSW index (recall scans them exactly meanwhile); counted every few seconds.",
		}, func() float64 { return float64(max(0, v.pending.Load())) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "memory_plugin_vector_index_rows_total",
			Help: "Memories this process moved into the HNSW index.",
		}, func() float64 { return float64(v.indexed.Load()) }))
}

// handler serves the registry in the text exposition format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// instrument counts and times every request by the ServeMux pattern that
// matched it, never by its path (a path carries namespace names and ids, which
// would make a series per memory). Requests that matched no route, or that
// the token check refused, are "other".
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := r.Pattern // set by the ServeMux on this request as it routes it
		if route == "" || route == "/" {
			route = "other"
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		code := strconv.Itoa(status)
		m.requests.WithLabelValues(route, r.Method, code).Inc()
		m.latency.WithLabelValues(route, r.Method, code).Observe(time.Since(start).Seconds())
	})
}

// timedEmbedder observes how long each call of the embedder takes.
type timedEmbedder struct {
	embedder
	name     string
	observer *prometheus.HistogramVec
}

func (t timedEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	start := time.Now()
	vecs, err := t.embedder.Embed(ctx, texts)
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	t.observer.WithLabelValues(t.name, outcome).Observe(time.Since(start).Seconds())
	return vecs, err
}

// poolCollector reports the connection pool's use at scrape time.
type poolCollector struct{ pool *pgxpool.Pool }

var (
	poolConns = prometheus.NewDesc("memory_plugin_db_pool_connections",
		"Database connections of the pool by state: acquired (serving a request), idle, total, max (the pool's bound).", []string{"state"}, nil)
	poolAcquires = prometheus.NewDesc("memory_plugin_db_pool_acquires_total",
		"Connections acquired from the pool.", nil, nil)
	poolWaits = prometheus.NewDesc("memory_plugin_db_pool_acquire_waits_total",
		"Acquisitions that had to wait for a connection: a pool too small for the load.", nil, nil)
	poolWaitSeconds = prometheus.NewDesc("memory_plugin_db_pool_acquire_wait_seconds_total",
		"Time spent acquiring connections, waits included.", nil, nil)
)

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolConns
	ch <- poolAcquires
	ch <- poolWaits
	ch <- poolWaitSeconds
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	for state, n := range map[string]int32{"acquired": s.AcquiredConns(), "idle": s.IdleConns(), "total": s.TotalConns(), "max": s.MaxConns()} {
		ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaitSeconds, prometheus.CounterValue, s.AcquireDuration().Seconds())
}
