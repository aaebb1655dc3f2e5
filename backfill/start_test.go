package backfill

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// healthOnly is a server that answers /v1/health with health and every other
// route with 401 when auth is set, else 404.
func healthOnly(t *testing.T, code int, health string, auth bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/health" {
			w.WriteHeader(code)
			io.WriteString(w, health)
			return
		}
		if auth {
			w.WriteHeader(401)
			io.WriteString(w, `{"code":"forbidden","message":"missing or wrong bearer token"}`)
			return
		}
		w.WriteHeader(200)
		io.WriteString(w, `{"memories":[]}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestStartChecksThePlugin(t *testing.T) {
	f := newFixture(t, noOptionalCols, 0)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + closed.Addr().String()
	closed.Close()
	const all = `{"status":"ok","version":"1.0.0","capabilities":["batch","lookup","created_at","metadata"]}`
	tests := []struct {
		name      string
		mode      string
		pluginURL string
		wantCode  int
		want      string // in stderr
	}{
		{"an unreachable plugin stops -apply with 69", "-apply", deadURL, ExitUnavailable,
			"memory-backfill: memory plugin at " + deadURL + " is not available: Get \"" + deadURL + "/v1/health\": dial tcp"},
		{"an unreachable plugin stops -verify with 69", "-verify", deadURL, ExitUnavailable, "is not available"},
		{"a degraded plugin stops -apply with 69", "-apply",
			healthOnly(t, 503, `{"status":"degraded","version":"1.0.0","capabilities":[]}`, false), ExitUnavailable,
			"is not available: plugin answered 503 unavailable: plugin reports status degraded (start it, or set MEMORY_PLUGIN_URL)"},
		{"a plugin that refuses the token stops the run with 78, naming the variable", "-apply",
			healthOnly(t, 200, all, true), ExitConfig,
			`memory-backfill: MEMORY_PLUGIN_TOKEN="(redacted)" is invalid: the plugin refused it: plugin answered 401 forbidden: missing or wrong bearer token; accepted: the token the plugin was started with`},
		{"a plugin that wants a token none was given for stops the run with 78, saying it is not set", "-apply",
			healthOnly(t, 200, all, true), ExitConfig,
			`memory-backfill: MEMORY_PLUGIN_TOKEN is not set: the plugin requires one: plugin answered 401 forbidden: missing or wrong bearer token; accepted: the token the plugin was started with`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": f.url, "MEMORY_PLUGIN_URL": tt.pluginURL}
			if strings.Contains(tt.want, `"(redacted)"`) {
				env["MEMORY_PLUGIN_TOKEN"] = "not-the-plugins-token"
			}
			got := runMain(t, env, tt.mode)
			if got.code != tt.wantCode || !strings.Contains(got.stderr, tt.want) || strings.Count(got.stderr, "\n") != 1 || got.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and one line with %q", got.code, got.stdout, got.stderr, tt.wantCode, tt.want)
			}
		})
	}
}
