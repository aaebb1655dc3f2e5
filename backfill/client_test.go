package backfill

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// testClient is a client of srv with a quick retry schedule: five attempts in
// all, a millisecond apart.
func testClient(t *testing.T, srv *httptest.Server, token string) *Client {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(u, token)
	c.newBackOff = func() backoff.BackOff {
		return backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Millisecond), 4)
	}
	return c
}

// flakyServer fails the first `failures` requests with fail, then answers 200
// with answer. It counts the requests.
func flakyServer(t *testing.T, failures int64, fail func(http.ResponseWriter), answer string) (*httptest.Server, *atomic.Int64) {
	n := new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= failures {
			fail(w)
			return
		}
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, n
}

func status(code int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// hangUp closes the connection without an answer, as a crashing plugin does.
func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestClientRetries(t *testing.T) {
	const ok = `{"memories":[{"id":"a","namespace":"workspace:x","content":"c"}]}`
	tests := []struct {
		name      string
		failures  int64
		fail      func(http.ResponseWriter)
		wantCalls int64
		wantErr   string
	}{
		{"a 503 is retried until the plugin answers", 2, status(503, `{"code":"unavailable","message":"database down"}`), 3, ""},
		{"a 500 is retried", 1, status(500, `{"code":"internal","message":"boom"}`), 2, ""},
		{"a 429 is retried", 1, status(429, `{"code":"unavailable","message":"slow down"}`), 2, ""},
		{"a dropped connection is retried", 3, hangUp, 4, ""},
		{"a 400 is not retried", 1, status(400, `{"code":"bad_request","message":"ids is empty"}`), 1, "plugin answered 400 bad_request: ids is empty"},
		{"a 403 is not retried", 1, status(403, `{"code":"forbidden","message":"bad token"}`), 1, "plugin answered 403 forbidden: bad token"},
		{"a 404 is not retried", 1, status(404, `{"code":"not_found","message":"no route"}`), 1, "plugin answered 404 not_found: no route"},
		{"retries end when the schedule does", 99, status(503, `{"code":"unavailable","message":"database down"}`), 5, "plugin answered 503 unavailable: database down"},
		{"a 200 that does not decode is not retried", 1, status(200, `{"memories":`), 1, "does not decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := flakyServer(t, tt.failures, tt.fail, ok)
			got, err := testClient(t, srv, "").Lookup(context.Background(), []string{"a"})
			if calls.Load() != tt.wantCalls {
				t.Fatalf("%d calls, want %d", calls.Load(), tt.wantCalls)
			}
			if tt.wantErr == "" {
				if err != nil || len(got) != 1 || got[0].ID != "a" {
					t.Fatalf("got %v, %v; want memory a", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestClientStopsRetryingWhenTheContextEnds(t *testing.T) {
	answered := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status(503, `{"code":"unavailable","message":"down"}`)(w)
		answered <- struct{}{}
	}))
	defer srv.Close()
	c := testClient(t, srv, "")
	c.newBackOff = func() backoff.BackOff { return backoff.NewConstantBackOff(time.Hour) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := c.Lookup(ctx, []string{"a"}); done <- err }()
	<-answered // the first attempt failed; the client now waits an hour for the next
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestClientSendsTheTokenEverywhereButHealth(t *testing.T) {
	seen := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen[r.URL.Path] = r.Header.Get("Authorization")
		switch r.URL.Path {
		case "/v1/health":
			io.WriteString(w, `{"status":"ok","version":"1.0.0","capabilities":["batch","lookup"]}`)
		case "/v1/memories/batch":
			io.WriteString(w, `{"results":[{"index":0,"id":"a","namespace":"workspace:x","status":"written"}]}`)
		case "/v1/memories/lookup":
			io.WriteString(w, `{"memories":[]}`)
		default:
			w.WriteHeader(201)
			io.WriteString(w, `{"id":"a","namespace":"workspace:x"}`)
		}
	}))
	defer srv.Close()
	c := testClient(t, srv, "s3cret")
	ctx := context.Background()
	h, err := c.Health(ctx)
	if err != nil || !h.Has("batch") || h.Has("ttl") {
		t.Fatalf("health %+v, %v", h, err)
	}
	m := MemoryWrite{Namespace: "workspace:x", ID: "a", Content: "c"}
	if _, err := c.WriteBatch(ctx, []MemoryWrite{m}); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, "workspace:x", m); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup(ctx, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/v1/health": "", "/v1/memories/batch": "Bearer s3cret",
		"/v1/namespaces/workspace:x/memories": "Bearer s3cret", "/v1/memories/lookup": "Bearer s3cret"} {
		if got, ok := seen[path]; !ok || got != want {
			t.Errorf("%s: Authorization %q (called: %v), want %q", path, got, ok, want)
		}
	}
}

func TestClientRefusesABatchAnswerThatDoesNotMatchTheRequest(t *testing.T) {
	srv, _ := flakyServer(t, 0, nil, `{"results":[{"index":0,"status":"written"}]}`)
	_, err := testClient(t, srv, "").WriteBatch(context.Background(), make([]MemoryWrite, 2))
	if err == nil || err.Error() != "plugin answered 1 results for a batch of 2" {
		t.Fatalf("error %v", err)
	}
}

func TestHealthReportsADegradedPlugin(t *testing.T) {
	srv, calls := flakyServer(t, 1<<30, status(503, `{"status":"degraded","version":"1.0.0","capabilities":[]}`), "")
	_, err := testClient(t, srv, "").Health(context.Background())
	var pe *PluginError
	if !errors.As(err, &pe) || pe.Status != 503 || pe.Message != "plugin reports status degraded" || calls.Load() != 1 {
		t.Fatalf("error %v after %d calls, want one 503 degraded", err, calls.Load())
	}
}

// decodeBatch reads a batch request body.
