package backfill

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// contractCapabilities are the only capabilities the wire contract defines,
// and all the platform's own plugin advertises.
var contractCapabilities = []any{"embedding", "fts", "ttl", "pin", "propagation"}

// A contractPlugin is a real HTTP reverse proxy in front of our real plugin
// that behaves, at the wire, like the platform's own plugin: it advertises only
// the contract's five capabilities, has no batch or lookup route (404), answers
// 500 to a commit whose namespace was not PUT through it first (the platform's
// foreign-key violation), keeps neither created_at nor metadata (it drops those
// fields of a commit, as an unknown field is ignored), and answers null for a
// search that matches nothing. Storage, search and ids are the real plugin's.
type contractPlugin struct {
	URL string

	mu         sync.Mutex
	namespaces map[string]bool // PUT through the proxy
	puts       map[string]int  // PUTs per namespace
	calls      map[string]int  // requests per "METHOD path-kind"
	extensions int             // commits that carried created_at or metadata
	queries    int             // searches with a query
}

func newContractPlugin(t testing.TB, p *plugin) *contractPlugin {
	t.Helper()
	target, _ := url.Parse(p.URL)
	cp := &contractPlugin{namespaces: map[string]bool{}, puts: map[string]int{}, calls: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		var rewrite func(map[string]any)
		switch resp.Request.URL.Path {
		case "/v1/health":
			rewrite = func(h map[string]any) { h["capabilities"] = contractCapabilities }
		case "/v1/search":
			rewrite = func(a map[string]any) {
				if ms, ok := a["memories"].([]any); ok && len(ms) == 0 {
					a["memories"] = nil
				}
			}
		default:
			return nil
		}
		if resp.StatusCode != http.StatusOK {
			return nil
		}
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return err
		}
		rewrite(body)
		b, _ := json.Marshal(body)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Del("Content-Length")
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		path := r.URL.Path
		name, isNS := strings.CutPrefix(path, "/v1/namespaces/")
		name, isCommit := strings.CutSuffix(name, "/memories")
		kind := path
		switch {
		case isNS && isCommit:
			kind = "/v1/namespaces/{name}/memories"
		case isNS:
			kind = "/v1/namespaces/{name}"
		}
		cp.mu.Lock()
		cp.calls[r.Method+" "+kind]++
		cp.mu.Unlock()
		switch {
		case path == "/v1/memories/batch" || path == "/v1/memories/lookup":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"code":"not_found","message":"no such route"}`)
			return
		case isNS && !isCommit && r.Method == http.MethodPut:
			cp.mu.Lock()
			cp.namespaces[name], cp.puts[name] = true, cp.puts[name]+1
			cp.mu.Unlock()
		case isNS && isCommit && r.Method == http.MethodPost:
			cp.mu.Lock()
			known := cp.namespaces[name]
			cp.mu.Unlock()
			if !known {
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, `{"code":"internal","message":"insert or update on table \"memory_records\" violates foreign key constraint \"memory_records_namespace_fkey\""}`)
				return
			}
			var m map[string]any
			if json.Unmarshal(body, &m) == nil {
				if _, ok := m["created_at"]; ok {
					cp.count(&cp.extensions)
				}
				if _, ok := m["metadata"]; ok {
					cp.count(&cp.extensions)
				}
				delete(m, "created_at")
				delete(m, "metadata")
				body, _ = json.Marshal(m)
			}
		case path == "/v1/search":
			var s struct{ Query string }
			if json.Unmarshal(body, &s) == nil && s.Query != "" {
				cp.count(&cp.queries)
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cp.URL = srv.URL
	return cp
}

func (cp *contractPlugin) count(n *int) {
	cp.mu.Lock()
	*n++
	cp.mu.Unlock()
}

// calledWith returns how many requests of "METHOD path-kind" the proxy got.
func (cp *contractPlugin) calledWith(call string) int {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.calls[call]
}
