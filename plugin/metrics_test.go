package plugin_test

import (
	"bytes"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agentplatform/tenant-init/plugin"
)

// scrape reads /metrics as Prometheus would and returns the families.
func (c *client) scrape() map[string]*dto.MetricFamily {
	c.t.Helper()
	status, data := c.call(http.MethodGet, plugin.MetricsPath, nil)
	if status != http.StatusOK {
		c.t.Fatalf("GET %s = %d %s", plugin.MetricsPath, status, data)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		c.t.Fatalf("GET %s is not the text exposition format: %v\n%s", plugin.MetricsPath, err, data)
	}
	return families
}

// value returns the counter, gauge or histogram count of the series of family
// name whose labels include want, or 0 when there is none.
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := families[name]
	if !ok {
		return 0
	}
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

func TestMetricsCountRequestsByRoutePatternAndStatus(t *testing.T) {
	c := start(t, plugin.Config{})
	before := c.scrape()
	c.commit("workspace:a", "the deploy key rotates every ninety days", nil)
	c.commit("workspace:b", "lunch is at noon", nil)
	c.search(map[string]any{"namespaces": []string{"workspace:a"}, "query": "deploy key"})
	c.must(http.StatusBadRequest, "POST", "/v1/search", map[string]any{"namespaces": []string{}}, nil)
	c.must(http.StatusNotFound, "GET", "/v1/nothing/here", nil, nil)
	after := c.scrape()

	tests := []struct {
		name   string
		family string
		labels map[string]string
		moved  float64
	}{
		{"two commits count once each under their route pattern, not their path",
			"memory_plugin_http_requests_total", map[string]string{"route": "/v1/namespaces/{name}/memories", "method": "POST", "code": "201"}, 2},
		{"a search that answered counts under 200",
			"memory_plugin_http_requests_total", map[string]string{"route": "/v1/search", "method": "POST", "code": "200"}, 1},
		{"a refused search counts under 400",
			"memory_plugin_http_requests_total", map[string]string{"route": "/v1/search", "method": "POST", "code": "400"}, 1},
		{"an unknown path counts as other",
			"memory_plugin_http_requests_total", map[string]string{"route": "other", "code": "404"}, 1},
		{"each commit's latency is observed",
			"memory_plugin_http_request_duration_seconds", map[string]string{"route": "/v1/namespaces/{name}/memories", "code": "201"}, 2},
		{"the embedder is timed for both commits and the query",
			"memory_plugin_embedding_duration_seconds", map[string]string{"embedder": "builtin", "outcome": "ok"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := value(after, tt.family, tt.labels) - value(before, tt.family, tt.labels); got != tt.moved {
				t.Errorf("%s%v moved by %v; want %v", tt.family, tt.labels, got, tt.moved)
			}
		})
	}
	if _, ok := after["memory_plugin_http_requests_total"]; !ok {
		t.Fatal("no memory_plugin_http_requests_total")
	}
	for _, f := range after["memory_plugin_http_requests_total"].Metric {
		for _, l := range f.Label {
			if l.GetName() == "route" && bytes.Contains([]byte(l.GetValue()), []byte("workspace:")) {
				t.Errorf("a route label carries a namespace name: %q", l.GetValue())
			}
		}
	}
}

func TestMetricsReportThePoolAndTheProcess(t *testing.T) {
	c := start(t, plugin.Config{})
	c.commit("workspace:a", "a memory", nil)
	got := c.scrape()
	if max := value(got, "memory_plugin_db_pool_connections", map[string]string{"state": "max"}); max < 1 {
		t.Errorf("pool max = %v; want the pool's bound, at least 1", max)
	}
	if total := value(got, "memory_plugin_db_pool_connections", map[string]string{"state": "total"}); total < 1 {
		t.Errorf("pool total = %v after a commit; want at least 1 connection", total)
	}
	if n := value(got, "memory_plugin_db_pool_acquires_total", nil); n < 1 {
		t.Errorf("pool acquires = %v after a commit; want at least 1", n)
	}
	for _, name := range []string{"process_resident_memory_bytes", "go_goroutines"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no %s: the process and Go collectors are missing", name)
		}
	}
}

func TestMetricsNeedTheTokenWhenOneIsSet(t *testing.T) {
	c := start(t, plugin.Config{Token: "0123456789abcdef0123"})
	anonymous := *c
	anonymous.token = ""
	if status, _ := anonymous.call(http.MethodGet, plugin.MetricsPath, nil); status != http.StatusUnauthorized {
		t.Fatalf("GET %s without the token = %d; want 401", plugin.MetricsPath, status)
	}
	c.scrape()
}
