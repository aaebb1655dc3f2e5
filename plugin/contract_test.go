package plugin_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/plugin"
)

const ws = "workspace:0b7f6c1e-3d0a-4a51-9a43-5b2f3c4d5e6f"

// TestErrorRowsOfTheContract sends every request the contract (and the
// extensions) answer with an error and checks status, code and message.
func TestErrorRowsOfTheContract(t *testing.T) {
	c := start(t, plugin.Config{EmbeddingDim: 8})
	c.must(http.StatusOK, "PUT", "/v1/namespaces/"+ws, map[string]any{"kind": "workspace"}, nil)
	id := c.commit(ws, "the sky is blue", nil)
	other := "team:7a0c2a54-1111-4c4c-9d9d-000000000001"
	c.commit(other, "team memory", nil)

	longName := "custom:" + strings.Repeat("a", 250)
	tests := []struct {
		name       string
		method     string
		path       string
		body       any
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"an unknown path is 404 no route", "GET", "/v1/nothing", nil, 404, "not_found", "no route"},
		{"the root is 404 no route", "GET", "/", nil, 404, "not_found", "no route"},
		{"a wrong method on a known path is 405", "GET", "/v1/search", nil, 405, "bad_request", "method not allowed"},
		{"POST on a namespace is 405", "POST", "/v1/namespaces/" + ws, `{}`, 405, "bad_request", "method not allowed"},
		{"DELETE on health is 405", "DELETE", "/v1/health", nil, 405, "bad_request", "method not allowed"},

		{"PUT with a bad name is 400", "PUT", "/v1/namespaces/Workspace:x", map[string]any{"kind": "workspace"}, 400, "bad_request", "not a namespace name"},
		{"PUT with a name without prefix is 400", "PUT", "/v1/namespaces/justaname", map[string]any{"kind": "custom"}, 400, "bad_request", "not a namespace name"},
		{"PUT with a name over 256 characters is 400", "PUT", "/v1/namespaces/" + longName, map[string]any{"kind": "custom"}, 400, "bad_request", "at most 256"},
		{"PUT with a bad kind is 400", "PUT", "/v1/namespaces/" + ws, map[string]any{"kind": "galaxy"}, 400, "bad_request", `kind "galaxy" is not one of workspace, team, org, custom`},
		{"PUT without kind is 400", "PUT", "/v1/namespaces/" + ws, `{}`, 400, "bad_request", "kind is required"},
		{"PUT with invalid JSON is 400", "PUT", "/v1/namespaces/" + ws, `{"kind":`, 400, "bad_request", "not valid JSON"},
		{"PUT with a bad expires_at is 400", "PUT", "/v1/namespaces/" + ws, `{"kind":"workspace","expires_at":"tomorrow"}`, 400, "bad_request", "expires_at"},
		{"PUT with metadata that is not an object is 400", "PUT", "/v1/namespaces/" + ws, `{"kind":"workspace","metadata":[1]}`, 400, "bad_request", "metadata must be a JSON object"},

		{"PATCH without fields is 400", "PATCH", "/v1/namespaces/" + ws, `{}`, 400, "bad_request", "patch has no fields set"},
		{"PATCH of a missing namespace is 404", "PATCH", "/v1/namespaces/org:missing", `{"metadata":{}}`, 404, "not_found", "namespace not found"},
		{"DELETE of a missing namespace is 404", "DELETE", "/v1/namespaces/org:missing", nil, 404, "not_found", "namespace not found"},

		{"a commit without content is 400", "POST", "/v1/namespaces/" + ws + "/memories", `{"kind":"fact","source":"agent"}`, 400, "bad_request", "content is required"},
		{"a commit with blank content is 400", "POST", "/v1/namespaces/" + ws + "/memories", `{"content":" \n\t","kind":"fact","source":"agent"}`, 400, "bad_request", "must not be blank"},
		{"a commit with a bad kind is 400", "POST", "/v1/namespaces/" + ws + "/memories", `{"content":"x","kind":"rumour","source":"agent"}`, 400, "bad_request", `kind "rumour" is not one of fact, summary, checkpoint`},
		{"a commit with a bad source is 400", "POST", "/v1/namespaces/" + ws + "/memories", `{"content":"x","kind":"fact","source":"cat"}`, 400, "bad_request", "source"},
		{"a commit with a wrongly typed field is 400 naming it", "POST", "/v1/namespaces/" + ws + "/memories", `{"content":"x","kind":"fact","source":"agent","pin":"yes"}`, 400, "bad_request", "pin must be a boolean, not string"},
		{"a commit with propagation that is not an object is 400 naming it", "POST", "/v1/namespaces/" + ws + "/memories", `{"content":"x","kind":"fact","source":"agent","propagation":["a"]}`, 400, "bad_request", "propagation must be a JSON object or null, not an array"},
		{"a commit with an embedding of another length is 400", "POST", "/v1/namespaces/" + ws + "/memories", `{"content":"x","kind":"fact","source":"agent","embedding":[1,2,3]}`, 400, "bad_request", "has 3 dimensions; this plugin stores 8"},
		{"a commit with an id that is not a UUID is 400", "POST", "/v1/namespaces/" + ws + "/memories", `{"content":"x","kind":"fact","source":"agent","id":"42"}`, 400, "bad_request", "not a UUID"},
		{"a commit to a bad namespace name is 400", "POST", "/v1/namespaces/WS:1/memories", `{"content":"x","kind":"fact","source":"agent"}`, 400, "bad_request", "not a namespace name"},
		{"a commit with a NUL in content is 400", "POST", "/v1/namespaces/" + ws + "/memories", `{"content":"a\u0000b","kind":"fact","source":"agent"}`, 400, "bad_request", "NUL"},
		{"a commit with two JSON objects is 400", "POST", "/v1/namespaces/" + ws + "/memories", `{"content":"x","kind":"fact","source":"agent"}{}`, 400, "bad_request", "exactly one JSON object"},
		{"a commit whose body is an array is 400", "POST", "/v1/namespaces/" + ws + "/memories", `[]`, 400, "bad_request", "must be a JSON object"},

		{"a search without namespaces is 400", "POST", "/v1/search", `{"query":"x"}`, 400, "bad_request", "namespaces is empty"},
		{"a search with an empty namespace list is 400", "POST", "/v1/search", `{"namespaces":[]}`, 400, "bad_request", "namespaces is empty"},
		{"a search with limit over 100 is 400", "POST", "/v1/search", `{"namespaces":["` + ws + `"],"limit":101}`, 400, "bad_request", "limit is 101"},
		{"a search with a negative limit is 400", "POST", "/v1/search", `{"namespaces":["` + ws + `"],"limit":-1}`, 400, "bad_request", "limit"},
		{"a search with a fractional limit is 400", "POST", "/v1/search", `{"namespaces":["` + ws + `"],"limit":2.5}`, 400, "bad_request", "limit must be an integer"},
		{"a search with a bad kind is 400", "POST", "/v1/search", `{"namespaces":["` + ws + `"],"kinds":["gossip"]}`, 400, "bad_request", "kinds[0]"},
		{"a search with a bad namespace is 400", "POST", "/v1/search", `{"namespaces":["nope"]}`, 400, "bad_request", "namespaces[0]"},

		{"deleting a memory from another namespace is 404", "DELETE", "/v1/memories/" + id, map[string]any{"requested_by_namespace": other}, 404, "not_found", "memory not found in namespace"},
		{"deleting an unknown memory is 404", "DELETE", "/v1/memories/00000000-0000-4000-8000-000000000000", map[string]any{"requested_by_namespace": ws}, 404, "not_found", "memory not found in namespace"},
		{"deleting without requested_by_namespace is 400", "DELETE", "/v1/memories/" + id, `{}`, 400, "bad_request", "requested_by_namespace"},
		{"deleting a memory id that is not a UUID is 400", "DELETE", "/v1/memories/abc", map[string]any{"requested_by_namespace": ws}, 400, "bad_request", "not a UUID"},

		{"an empty batch is 400", "POST", "/v1/memories/batch", `{"memories":[]}`, 400, "bad_request", "a batch has 1 to 500"},
		{"a batch of 501 is 400", "POST", "/v1/memories/batch", map[string]any{"memories": make([]map[string]any, 501)}, 400, "bad_request", "has 501 items"},
		{"an empty lookup is 400", "POST", "/v1/memories/lookup", `{"ids":[]}`, 400, "bad_request", "a lookup has 1 to 1000"},
		{"a lookup of 1001 ids is 400", "POST", "/v1/memories/lookup", map[string]any{"ids": make([]string, 1001)}, 400, "bad_request", "has 1001 ids"},
		{"a lookup with a bad id is 400 naming it", "POST", "/v1/memories/lookup", `{"ids":["` + id + `","x"]}`, 400, "bad_request", "ids[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			status, data := c.call(tt.method, tt.path, tt.body)
			var e envelope
			if err := json.Unmarshal(data, &e); err != nil {
				t.Fatalf("answer %d %q is not the error envelope: %v", status, data, err)
			}
			if status != tt.wantStatus || e.Code != tt.wantCode || !strings.Contains(e.Message, tt.wantMsg) {
				t.Fatalf("got %d %s; want %d code %q message containing %q", status, data, tt.wantStatus, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestHealthReportsVersionAndCapabilities(t *testing.T) {
	c := start(t, plugin.Config{EmbeddingDim: 8})
	var h struct {
		Status       string
		Version      string
		Capabilities []string
	}
	c.must(http.StatusOK, "GET", "/v1/health", nil, &h)
	if h.Status != "ok" || h.Version != "1.0.0" {
		t.Fatalf("health = %+v; want status ok, version 1.0.0", h)
	}
	for _, want := range []string{"fts", "embedding", "ttl", "pin", "propagation", "batch", "lookup", "created_at", "metadata"} {
		if !slices.Contains(h.Capabilities, want) {
			t.Errorf("capabilities %v lack %q", h.Capabilities, want)
		}
	}
}

func TestNamespaceLifecycle(t *testing.T) {
	c := start(t, plugin.Config{EmbeddingDim: 8})
	var ns struct {
		Name      string          `json:"name"`
		Kind      string          `json:"kind"`
		ExpiresAt *time.Time      `json:"expires_at"`
		Metadata  json.RawMessage `json:"metadata"`
		CreatedAt time.Time       `json:"created_at"`
	}
	path := "/v1/namespaces/" + ws
	c.must(http.StatusOK, "PUT", path, `{"kind":"workspace","expires_at":"2099-01-01T00:00:00Z","metadata":{"b":1,"a":[true]}}`, &ns)
	if ns.Name != ws || ns.Kind != "workspace" || ns.ExpiresAt == nil || string(ns.Metadata) != `{"b":1,"a":[true]}` || ns.CreatedAt.IsZero() {
		t.Fatalf("PUT answered %+v", ns)
	}
	created := ns.CreatedAt

	t.Run("a second PUT is an idempotent upsert", func(t *testing.T) {
		c.t = t
		c.must(http.StatusOK, "PUT", path, `{"kind":"custom"}`, &ns)
		if ns.Kind != "custom" || ns.ExpiresAt != nil || !null(ns.Metadata) || !ns.CreatedAt.Equal(created) {
			t.Fatalf("PUT again answered %+v; want kind custom, no expiry or metadata, same created_at", ns)
		}
	})
	t.Run("PATCH changes only the fields present", func(t *testing.T) {
		c.t = t
		c.must(http.StatusOK, "PATCH", path, `{"metadata":{"team":"blue"}}`, &ns)
		if ns.Kind != "custom" || string(ns.Metadata) != `{"team":"blue"}` || ns.ExpiresAt != nil {
			t.Fatalf("PATCH answered %+v", ns)
		}
		c.must(http.StatusOK, "PATCH", path, `{"expires_at":"2099-05-05T05:05:05Z"}`, &ns)
		if ns.ExpiresAt == nil || !ns.ExpiresAt.Equal(time.Date(2099, 5, 5, 5, 5, 5, 0, time.UTC)) || string(ns.Metadata) != `{"team":"blue"}` {
			t.Fatalf("PATCH answered %+v", ns)
		}
		c.must(http.StatusOK, "PATCH", path, `{"expires_at":null}`, &ns)
		if ns.ExpiresAt != nil {
			t.Fatalf("PATCH expires_at null left %v", ns.ExpiresAt)
		}
	})
	t.Run("DELETE removes the namespace and its memories", func(t *testing.T) {
		c.t = t
		id := c.commit(ws, "doomed memory", nil)
		c.must(http.StatusNoContent, "DELETE", path, nil, nil)
		var found memories
		c.must(http.StatusOK, "POST", "/v1/memories/lookup", map[string]any{"ids": []string{id}}, &found)
		if len(found.Memories) != 0 {
			t.Fatalf("memory of a deleted namespace still found: %+v", found)
		}
		c.must(http.StatusNotFound, "PATCH", path, `{"metadata":null}`, nil)
	})
}

func TestACommitToANewNamespaceCreatesItWithTheKindOfItsPrefix(t *testing.T) {
	c := start(t, plugin.Config{EmbeddingDim: 8})
	for _, tt := range []struct{ ns, kind string }{
		{"workspace:a1", "workspace"}, {"team:b2", "team"}, {"org:c3", "org"}, {"project:d4", "custom"},
	} {
		c.commit(tt.ns, "first memory of "+tt.ns, nil)
		var ns struct{ Kind string }
		// PATCH answers the namespace as it is without changing its kind.
		c.must(http.StatusOK, "PATCH", "/v1/namespaces/"+tt.ns, `{"metadata":null}`, &ns)
		if ns.Kind != tt.kind {
			t.Errorf("namespace %s was created with kind %q; want %q", tt.ns, ns.Kind, tt.kind)
		}
	}
}

func TestAMemoryComesBackAsWritten(t *testing.T) {
	c := start(t, plugin.Config{EmbeddingDim: 8})
	created := "2021-03-04T05:06:07.123456Z"
	expires := "2099-01-02T03:04:05Z"
	prop := `{"z":1,"a":{"deep":[1,2.50,"x"]},"big":12345678901234567890}`
	id := c.commit(ws, "Tom prefers <tea> & biscuits", map[string]any{
		"kind": "summary", "source": "user", "pin": true, "expires_at": expires,
		"propagation": json.RawMessage(prop), "created_at": created,
		"metadata": json.RawMessage(`{"legacy_scope":"LOCAL"}`),
		"id":       "0B7F6C1E-3D0A-4A51-9A43-5B2F3C4D5E6F",
	})
	if id != "0b7f6c1e-3d0a-4a51-9a43-5b2f3c4d5e6f" {
		t.Fatalf("id = %s; want the client's UUID in canonical form", id)
	}
	var found memories
	c.must(http.StatusOK, "POST", "/v1/memories/lookup", map[string]any{"ids": []string{id}}, &found)
	if len(found.Memories) != 1 {
		t.Fatalf("lookup found %d memories", len(found.Memories))
	}
	m := found.Memories[0]
	if m.Content != "Tom prefers <tea> & biscuits" || m.Kind != "summary" || m.Source != "user" || !m.Pin ||
		m.Namespace != ws || m.ExpiresAt.Format(time.RFC3339) != expires || m.CreatedAt.Format(time.RFC3339Nano) != created ||
		string(m.Propagation) != prop || string(m.Metadata) != `{"legacy_scope":"LOCAL"}` {
		t.Fatalf("lookup answered %+v (propagation %s, metadata %s)", m, m.Propagation, m.Metadata)
	}

	t.Run("a retried write updates the row in place and keeps created_at", func(t *testing.T) {
		c.t = t
		c.commit(ws, "Tom prefers coffee now", map[string]any{"id": id})
		c.must(http.StatusOK, "POST", "/v1/memories/lookup", map[string]any{"ids": []string{id}}, &found)
		m := found.Memories[0]
		if m.Content != "Tom prefers coffee now" || m.CreatedAt.Format(time.RFC3339Nano) != created || m.Pin || !null(m.Propagation) {
			t.Fatalf("after the retry: %+v", m)
		}
	})
	t.Run("delete by the owning namespace answers 204 and removes it", func(t *testing.T) {
		c.t = t
		c.must(http.StatusNoContent, "DELETE", "/v1/memories/"+id, map[string]any{"requested_by_namespace": ws}, nil)
		c.must(http.StatusOK, "POST", "/v1/memories/lookup", map[string]any{"ids": []string{id}}, &found)
		if len(found.Memories) != 0 {
			t.Fatalf("deleted memory still found")
		}
	})
}
