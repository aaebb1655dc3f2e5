package backfill

// The stage-2 tests run the real memory plugin (package plugin, served over
// real HTTP in the test process) against a pgtest database, and talk to it over
// HTTP only, as the backfill does: the wire contract (docs/http-api-v1.md) and
// the plugin's extensions (batch, lookup, created_at, metadata) are the
// interface; the package is used only to start it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/internal/pgtest"
	memoryplugin "github.com/agentplatform/tenant-init/plugin"
)

// built holds the binaries this test binary compiled, removed by TestMain.
var built struct {
	sync.Mutex
	dir   string
	paths map[string]string
}

// binary builds cmd/<name> once per test binary and returns its path.
func binary(t testing.TB, name string) string {
	t.Helper()
	built.Lock()
	defer built.Unlock()
	if p, ok := built.paths[name]; ok {
		return p
	}
	if built.dir == "" {
		dir, err := os.MkdirTemp("", "backfill-bin-")
		if err != nil {
			t.Fatal(err)
		}
		built.dir, built.paths = dir, map[string]string{}
	}
	out := filepath.Join(built.dir, name)
	cmd := exec.Command("go", "build", "-o", out, "github.com/agentplatform/tenant-init/cmd/"+name)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/%s: %v\n%s", name, err, b)
	}
	built.paths[name] = out
	return out
}

// A plugin is the real memory plugin (package plugin), served in this test
// process on a loopback port, with its tables in the database db.
type plugin struct {
	URL   string
	db    string
	token string
}

// startPlugin opens the plugin on db (migrating it) and serves it with the
// plugin's own http.Server settings until the test ends.
func startPlugin(t testing.TB, db, token string) *plugin {
	t.Helper()
	ctx := context.Background()
	svc, err := memoryplugin.Open(ctx, memoryplugin.Config{DatabaseURL: db, Token: token})
	if err != nil {
		t.Fatalf("opening the memory plugin: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := svc.HTTPServer()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("stopping the memory plugin: %v", err)
		}
		<-served
		svc.Close()
	})
	return &plugin{URL: "http://" + l.Addr().String(), db: db, token: token}
}

// call sends one request to the plugin and returns the status and body.
func (p *plugin) call(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// stored is a memory as the plugin returns it.
type stored struct {
	ID        string         `json:"id"`
	Namespace string         `json:"namespace"`
	Content   string         `json:"content"`
	Kind      string         `json:"kind"`
	Source    string         `json:"source"`
	CreatedAt time.Time      `json:"created_at"`
	Metadata  map[string]any `json:"metadata"`
}

// state looks every id up in the plugin: id → the memory's JSON exactly as
// returned, so two states compare field for field.
func (p *plugin) state(t testing.TB, ids []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for start := 0; start < len(ids); start += 1000 {
		chunk := ids[start:min(start+1000, len(ids))]
		code, body := p.call(t, "POST", "/v1/memories/lookup", map[string]any{"ids": chunk})
		if code != 200 {
			t.Fatalf("lookup: %d %s", code, body)
		}
		var answer struct{ Memories []json.RawMessage }
		if err := json.Unmarshal(body, &answer); err != nil {
			t.Fatal(err)
		}
		for _, raw := range answer.Memories {
			var m stored
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			out[m.ID] = string(raw)
		}
	}
	return out
}

// records counts the plugin's stored rows, and distinct ids among them, in its
// own tables (schema memory_plugin by default): duplicates would show here.
func (p *plugin) records(t testing.TB) (rows, distinct int64) {
	t.Helper()
	err := pgtest.Connect(t, p.db).QueryRow(context.Background(), "SELECT count(*), count(DISTINCT id) FROM memory_plugin.memory_records").Scan(&rows, &distinct)
	if err != nil {
		t.Fatalf("counting the plugin's records: %v", err)
	}
	return rows, distinct
}

// commit writes one memory through the plugin's single-commit route.
func (p *plugin) commit(t testing.TB, namespace, id, content string) {
	t.Helper()
	code, body := p.call(t, "POST", "/v1/namespaces/"+url.PathEscape(namespace)+"/memories",
		map[string]any{"id": id, "content": content, "kind": "fact", "source": "user"})
	if code != 201 {
		t.Fatalf("commit %s into %s: %d %s", id, namespace, code, body)
	}
}

// forget deletes one memory through the plugin.
func (p *plugin) forget(t testing.TB, namespace, id string) {
	t.Helper()
	code, body := p.call(t, "DELETE", "/v1/memories/"+id, map[string]any{"requested_by_namespace": namespace})
	if code != 204 {
		t.Fatalf("delete %s from %s: %d %s", id, namespace, code, body)
	}
}

// A proxy stands between the backfill and the real plugin to change what the
// plugin advertises or to answer some requests itself (a plugin that lacks
// batch, a body limit, a 503 from a restarting plugin).
type proxy struct {
	URL string
	mu  sync.Mutex
	// intercept may answer a request itself (return true); body is its body.
	intercept func(w http.ResponseWriter, r *http.Request, body []byte) bool
	hide      []string // capabilities removed from /v1/health
	seen      map[string]int
}

func newProxy(t testing.TB, p *plugin) *proxy {
	target, _ := url.Parse(p.URL)
	px := &proxy{seen: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/v1/health" || len(px.hide) == 0 {
			return nil
		}
		var h map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			return err
		}
		var caps []any
		for _, c := range h["capabilities"].([]any) {
			if !strings.Contains(" "+strings.Join(px.hide, " ")+" ", " "+c.(string)+" ") {
				caps = append(caps, c)
			}
		}
		h["capabilities"] = caps
		b, _ := json.Marshal(h)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", fmt.Sprint(len(b)))
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		px.mu.Lock()
		px.seen[r.URL.Path]++
		px.mu.Unlock()
		if px.intercept != nil && px.intercept(w, r, body) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	px.URL = srv.URL
	return px
}

func (px *proxy) count(path string) int {
	px.mu.Lock()
	defer px.mu.Unlock()
	return px.seen[path]
}

// copyIDs are the fixture's rows that the backfill copies.
func (f *fixture) copyIDs() []string {
	var ids []string
	for id, w := range f.rows {
		if w.reason == "" {
			ids = append(ids, id)
		}
	}
	return ids
}
