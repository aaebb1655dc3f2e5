package plugin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/agentplatform/tenant-init/plugin"
)

const token = "s3cret-token-of-32-characters-xx"

func TestWithATokenEveryRouteButHealthNeedsIt(t *testing.T) {
	t.Parallel()
	authed := start(t, plugin.Config{EmbeddingDim: 8, Token: token})
	anon := &client{t: t, base: authed.base}
	wrong := &client{t: t, base: authed.base, token: token + "x"}
	short := &client{t: t, base: authed.base, token: token[:10]}

	tests := []struct {
		name   string
		method string
		path   string
		body   any
	}{
		{"committing", "POST", "/v1/namespaces/" + ws + "/memories", map[string]any{"content": "x", "kind": "fact", "source": "agent"}},
		{"searching", "POST", "/v1/search", map[string]any{"namespaces": []string{ws}}},
		{"putting a namespace", "PUT", "/v1/namespaces/" + ws, map[string]any{"kind": "workspace"}},
		{"deleting a namespace", "DELETE", "/v1/namespaces/" + ws, nil},
		{"batching", "POST", "/v1/memories/batch", map[string]any{"memories": []any{}}},
		{"looking up", "POST", "/v1/memories/lookup", map[string]any{"ids": []string{}}},
		{"probing an unknown path", "GET", "/v1/secret", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name+" without the token is 401", func(t *testing.T) {
			for _, c := range []*client{anon, wrong, short} {
				c.t = t
				status, data := c.call(tt.method, tt.path, tt.body)
				var e envelope
				json.Unmarshal(data, &e)
				if status != http.StatusUnauthorized || e.Code == "" || e.Message == "" {
					t.Fatalf("token %q: %d %s; want 401 with the envelope", c.token, status, data)
				}
			}
		})
	}
	t.Run("health needs no token", func(t *testing.T) {
		anon.t = t
		anon.must(http.StatusOK, "GET", "/v1/health", nil, nil)
	})
	t.Run("the right token is let through", func(t *testing.T) {
		authed.t = t
		authed.commit(ws, "authorised memory", nil)
		if got := authed.search(map[string]any{"namespaces": []string{ws}}); len(got) != 1 {
			t.Fatalf("search found %d", len(got))
		}
	})
	t.Run("the scheme is case-insensitive", func(t *testing.T) {
		req, _ := http.NewRequest("POST", authed.base+"/v1/search", strings.NewReader(`{"namespaces":["`+ws+`"]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestRequestBodiesAreBounded(t *testing.T) {
	t.Parallel()
	c := start(t, plugin.Config{EmbeddingDim: 8})
	huge := `{"content":"` + strings.Repeat("x", 1<<20) + `","kind":"fact","source":"agent"}`
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantMsg    string
	}{
		{"a commit over 1 MiB is 413", "POST", "/v1/namespaces/" + ws + "/memories", huge, 413, "larger than 1048576 bytes"},
		{"a search over 1 MiB is 413", "POST", "/v1/search", `{"query":"` + strings.Repeat("y", 1<<20) + `"}`, 413, "larger than"},
		{"content over 256 KiB is 400", "POST", "/v1/namespaces/" + ws + "/memories", `{"content":"` + strings.Repeat("z", 300<<10) + `","kind":"fact","source":"agent"}`, 400, "at most 262144"},
		{"a query over 8 KiB is 400", "POST", "/v1/search", `{"namespaces":["` + ws + `"],"query":"` + strings.Repeat("q ", 5<<10) + `"}`, 400, "query is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			status, data := c.call(tt.method, tt.path, tt.body)
			var e envelope
			if err := json.Unmarshal(data, &e); err != nil || status != tt.wantStatus || e.Code != "bad_request" || !strings.Contains(e.Message, tt.wantMsg) {
				t.Fatalf("got %d %.200s; want %d bad_request with %q", status, data, tt.wantStatus, tt.wantMsg)
			}
		})
	}
	t.Run("a chunked body without Content-Length is cut at the bound", func(t *testing.T) {
		// Chunked: no Content-Length, so only the reader's bound stops it.
		req, _ := http.NewRequest("POST", c.base+"/v1/search", strings.NewReader(huge))
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d; want 413", resp.StatusCode)
		}
	})
}

func TestOnlyJSONBodiesAreAccepted(t *testing.T) {
	t.Parallel()
	c := start(t, plugin.Config{EmbeddingDim: 8})
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
		req, _ := http.NewRequest("POST", c.base+"/v1/namespaces/"+ws+"/memories", strings.NewReader(`{"content":"x","kind":"fact","source":"agent"}`))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e envelope
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType || e.Code != "bad_request" {
			t.Errorf("Content-Type %q: %d %+v; want 415 bad_request", ct, resp.StatusCode, e)
		}
	}
	// With a charset parameter it is still JSON.
	req, _ := http.NewRequest("POST", c.base+"/v1/search", strings.NewReader(`{"namespaces":["`+ws+`"]}`))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("application/json; charset=utf-8: status %d", resp.StatusCode)
	}
}
