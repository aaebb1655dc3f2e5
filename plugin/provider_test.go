package plugin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/plugin"
)

// fakeProvider is a real HTTP server speaking the OpenAI embeddings API.
type fakeProvider struct {
	mu     sync.Mutex
	inputs []string
	auth   []string
	mode   string // "ok", "down", "hang", "wrongdim"
	dim    int
}

func (f *fakeProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string   `json:"model"`
		Input []string `json:"input"`
	}
	if r.URL.Path != "/v1/embeddings" || r.Method != "POST" || json.NewDecoder(r.Body).Decode(&req) != nil || req.Model != "test-model" {
		http.Error(w, "bad request to the fake", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.inputs = append(f.inputs, req.Input...)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	mode := f.mode
	f.mu.Unlock()
	switch mode {
	case "down":
		http.Error(w, `{"error":"model overloaded"}`, http.StatusServiceUnavailable)
		return
	case "hang":
		<-r.Context().Done()
		return
	}
	dim := f.dim
	if mode == "wrongdim" {
		dim++
	}
	type item struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	var data []item
	for i, text := range req.Input {
		// Texts sharing their first letter embed alike.
		v := make([]float32, dim)
		v[int(text[0])%dim] = 1
		data = append([]item{{Index: i, Embedding: v}}, data...) // out of order on purpose
	}
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
}

func (f *fakeProvider) set(mode string) {
	f.mu.Lock()
	f.mode = mode
	f.mu.Unlock()
}

func (f *fakeProvider) calls() ([]string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.inputs...), append([]string(nil), f.auth...)
}

func startWithProvider(t *testing.T) (*client, *fakeProvider) {
	fake := &fakeProvider{mode: "ok", dim: 8}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	c := start(t, plugin.Config{EmbeddingDim: 8, EmbeddingURL: srv.URL + "/v1", EmbeddingModel: "test-model",
		EmbeddingAPIKey: "provider-key", EmbeddingTimeout: 300 * time.Millisecond})
	return c, fake
}

func TestTheEmbeddingProviderEmbedsWritesAndQueries(t *testing.T) {
	t.Parallel()
	c, fake := startWithProvider(t)
	c.commit(ws, "zebras are striped", nil)
	c.commit(ws, "apples are red", map[string]any{"embedding": []float64{0, 0, 0, 0, 0, 0, 0, 1}})
	var batch struct{ Results []struct{ Status string } }
	c.must(http.StatusOK, "POST", "/v1/memories/batch", map[string]any{"memories": []map[string]any{
		{"namespace": ws, "content": "dates are brown", "kind": "fact", "source": "agent"},
		{"namespace": ws, "content": "cherries are dark", "kind": "fact", "source": "agent"},
	}}, &batch)
	got := c.search(map[string]any{"namespaces": []string{ws}, "query": "zoo"})
	if len(got) == 0 || got[0].Content != "zebras are striped" {
		t.Fatalf("search by the provider's embedding = %v; want the zebras first", contents(got))
	}
	inputs, auth := fake.calls()
	want := []string{"zebras are striped", "dates are brown", "cherries are dark", "zoo"}
	if strings.Join(inputs, "|") != strings.Join(want, "|") {
		t.Fatalf("provider got %q; want %q (a client's embedding is used as is, a batch is one call)", inputs, want)
	}
	if len(auth) != 3 || auth[0] != "Bearer provider-key" {
		t.Fatalf("provider calls carried %q; want 3 calls with the bearer key", auth)
	}
}

func TestAWriteThatNeedsAnEmbeddingIs503WhenTheProviderFails(t *testing.T) {
	t.Parallel()
	c, fake := startWithProvider(t)
	c.commit(ws, "written while the provider is up", nil)
	for _, tt := range []struct{ mode, wantMsg string }{
		{"down", "model overloaded"},
		{"hang", "no answer within 300ms"},
		{"wrongdim", "returns 9-dimensional embeddings but MEMORY_PLUGIN_EMBEDDING_DIM is 8"},
	} {
		t.Run("provider "+tt.mode, func(t *testing.T) {
			c.t = t
			fake.set(tt.mode)
			for _, req := range []struct{ path, body string }{
				{"/v1/namespaces/" + ws + "/memories", `{"content":"lost?","kind":"fact","source":"agent"}`},
				{"/v1/memories/batch", `{"memories":[{"namespace":"` + ws + `","content":"lost?","kind":"fact","source":"agent"}]}`},
			} {
				status, data := c.call("POST", req.path, req.body)
				var e envelope
				json.Unmarshal(data, &e)
				if status != http.StatusServiceUnavailable || e.Code != "unavailable" || !strings.Contains(e.Message, tt.wantMsg) || !strings.Contains(e.Message, "/v1/embeddings") {
					t.Fatalf("%s: %d %s; want 503 unavailable naming the provider and %q", req.path, status, data, tt.wantMsg)
				}
			}
			// Recall degrades to the full-text list instead of failing.
			got := c.search(map[string]any{"namespaces": []string{ws}, "query": "provider"})
			if len(got) != 1 || got[0].Content != "written while the provider is up" {
				t.Fatalf("search while the provider fails = %v", contents(got))
			}
		})
	}
	fake.set("ok")
	if got := c.search(map[string]any{"namespaces": []string{ws}}); len(got) != 1 {
		t.Fatalf("failed writes left %d memories; want only the first", len(got))
	}
}
