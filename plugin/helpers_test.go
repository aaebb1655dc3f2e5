package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/agentplatform/tenant-init/internal/pgtest"
	"github.com/agentplatform/tenant-init/plugin"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// open opens a plugin on a fresh database unless cfg names one.
func open(t testing.TB, cfg plugin.Config) *plugin.Service {
	t.Helper()
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = pgtest.New(t)
	}
	if cfg.Logger == nil {
		cfg.Logger = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svc, err := plugin.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("plugin.Open: %v", err)
	}
	t.Cleanup(svc.Close)
	return svc
}

// client talks to a plugin served by a real HTTP server.
type client struct {
	t     testing.TB
	base  string
	token string
}

func serve(t testing.TB, svc *plugin.Service) *client {
	t.Helper()
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return &client{t: t, base: srv.URL}
}

// start opens a plugin on a fresh database and serves it.
func start(t testing.TB, cfg plugin.Config) *client {
	t.Helper()
	c := serve(t, open(t, cfg))
	c.token = cfg.Token
	return c
}

// call sends body (a string is sent as is, anything else as JSON) and returns
// the status and the answer's body.
func (c *client) call(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, data
}

// must calls and fails the test unless the answer has status want; it decodes
// a JSON answer into out when out is non-nil.
func (c *client) must(want int, method, path string, body, out any) {
	c.t.Helper()
	status, data := c.call(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s = %d %s; want %d", method, path, status, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: answer %s: %v", method, path, data, err)
		}
	}
}

// Wire shapes as a client sees them.
type memory struct {
	ID          string          `json:"id"`
	Namespace   string          `json:"namespace"`
	Content     string          `json:"content"`
	Kind        string          `json:"kind"`
	Source      string          `json:"source"`
	ExpiresAt   *time.Time      `json:"expires_at"`
	Propagation json.RawMessage `json:"propagation"`
	Pin         bool            `json:"pin"`
	Metadata    json.RawMessage `json:"metadata"`
	CreatedAt   time.Time       `json:"created_at"`
	Score       *float64        `json:"score"`
}

type memories struct {
	Memories []memory `json:"memories"`
}

type envelope struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// commit writes a fact and returns its id.
func (c *client) commit(ns, content string, extra map[string]any) string {
	c.t.Helper()
	body := map[string]any{"content": content, "kind": "fact", "source": "agent"}
	for k, v := range extra {
		body[k] = v
	}
	var answer struct{ ID, Namespace string }
	c.must(http.StatusCreated, "POST", "/v1/namespaces/"+ns+"/memories", body, &answer)
	if answer.Namespace != ns || answer.ID == "" {
		c.t.Fatalf("commit answered %+v; want an id and namespace %s", answer, ns)
	}
	return answer.ID
}

// search returns the memories a search finds.
func (c *client) search(req map[string]any) []memory {
	c.t.Helper()
	var answer memories
	c.must(http.StatusOK, "POST", "/v1/search", req, &answer)
	return answer.Memories
}

func contents(ms []memory) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Content
	}
	return out
}

// null tells whether a JSON field was null or absent.
func null(raw json.RawMessage) bool { return raw == nil || string(raw) == "null" }
