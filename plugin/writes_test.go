package plugin_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentplatform/tenant-init/internal/pgtest"
	"github.com/agentplatform/tenant-init/plugin"
)

func TestFiftyConcurrentCommitsWithOneIDLeaveOneRow(t *testing.T) {
	t.Parallel()
	url := pgtest.New(t)
	c := serve(t, open(t, plugin.Config{DatabaseURL: url, EmbeddingDim: 8}))
	const id = "5f0c8e3a-7b1d-4c2e-9f3a-0123456789ab"
	var wg sync.WaitGroup
	errs := make(chan string, 50)
	for i := range 50 {
		wg.Go(func() {
			status, data := c.call("POST", "/v1/namespaces/"+ws+"/memories",
				map[string]any{"id": id, "content": fmt.Sprintf("version %d", i), "kind": "fact", "source": "agent"})
			if status != http.StatusCreated {
				errs <- fmt.Sprintf("commit %d: %d %s", i, status, data)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	count := func() (n int, content string) {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		err = conn.QueryRow(context.Background(), "SELECT count(*), max(content) FROM memory_plugin.memory_records").Scan(&n, &content)
		if err != nil {
			t.Fatal(err)
		}
		return n, content
	}
	n, content := count()
	if n != 1 {
		t.Fatalf("%d rows after 50 commits with one id; want 1", n)
	}
	t.Logf("the concurrent writes left %q", content)
	// The last acknowledged write is the content.
	c.commit(ws, "the final version", map[string]any{"id": id})
	if n, content = count(); n != 1 || content != "the final version" {
		t.Fatalf("after a last write: %d rows, content %q; want 1 row with the last content", n, content)
	}
}

func TestABatchWritesValidItemsAndReportsEachInRequestOrder(t *testing.T) {
	t.Parallel()
	c := start(t, plugin.Config{EmbeddingDim: 8})
	foreign := c.commit("team:t1", "belongs to the team", nil)
	existing := c.commit(ws, "old content", nil)
	body := `{"memories":[
		{"namespace":"workspace:new1","content":"fresh","kind":"fact","source":"runtime","created_at":"2020-01-01T00:00:00Z","metadata":{"v1_id":7}},
		{"namespace":"workspace:new1","content":"","kind":"fact","source":"agent"},
		{"namespace":"` + ws + `","id":"` + existing + `","content":"new content","kind":"summary","source":"agent"},
		{"namespace":"` + ws + `","id":"` + foreign + `","content":"moved here","kind":"fact","source":"agent"},
		{"content":"no namespace","kind":"fact","source":"agent"},
		{"namespace":"org:o1","content":"typed wrong","kind":"fact","source":"agent","pin":"true"},
		42,
		{"namespace":"org:o1","content":"ok too","kind":"checkpoint","source":"user","embedding":[1,0,0,0,0,0,0,0]}
	]}`
	var answer struct {
		Results []struct {
			Index     int    `json:"index"`
			ID        string `json:"id"`
			Namespace string `json:"namespace"`
			Status    string `json:"status"`
			Code      string `json:"code"`
			Message   string `json:"message"`
		} `json:"results"`
	}
	c.must(http.StatusOK, "POST", "/v1/memories/batch", body, &answer)
	want := []struct{ status, code, msg string }{
		{"written", "", ""},
		{"error", "bad_request", "content is required"},
		{"written", "", ""},
		{"written", "", ""},
		{"error", "bad_request", "namespace is required"},
		{"error", "bad_request", "pin must be a boolean"},
		{"error", "bad_request", "item must be a JSON object"},
		{"written", "", ""},
	}
	if len(answer.Results) != len(want) {
		t.Fatalf("%d results for %d items: %+v", len(answer.Results), len(want), answer.Results)
	}
	var written []string
	for i, r := range answer.Results {
		w := want[i]
		if r.Index != i || r.Status != w.status || r.Code != w.code || !strings.Contains(r.Message, w.msg) {
			t.Errorf("result %d = %+v; want status %s code %q message with %q", i, r, w.status, w.code, w.msg)
		}
		if r.Status == "written" {
			if r.ID == "" || r.Namespace == "" {
				t.Errorf("result %d lacks id or namespace: %+v", i, r)
			}
			written = append(written, r.ID)
		}
	}
	var found memories
	c.must(http.StatusOK, "POST", "/v1/memories/lookup", map[string]any{"ids": written}, &found)
	got := map[string]memory{}
	for _, m := range found.Memories {
		got[m.ID] = m
	}
	if m := got[written[0]]; m.Content != "fresh" || m.CreatedAt.Year() != 2020 || string(m.Metadata) != `{"v1_id":7}` {
		t.Errorf("first item stored as %+v", m)
	}
	if m := got[existing]; m.Content != "new content" || m.Kind != "summary" {
		t.Errorf("upserted item stored as %+v", m)
	}
	if m := got[foreign]; m.Content != "moved here" || m.Namespace != ws {
		t.Errorf("the memory of another namespace was not moved: %+v", m)
	}
	if len(found.Memories) != 4 {
		t.Errorf("lookup found %d memories; want 4", len(found.Memories))
	}
}

func TestALookupReturnsFoundMemoriesInTheOrderAsked(t *testing.T) {
	t.Parallel()
	c := start(t, plugin.Config{EmbeddingDim: 8})
	a := c.commit(ws, "alpha", nil)
	b := c.commit("org:x", "bravo", nil)
	missing := "00000000-0000-4000-8000-000000000000"
	var found memories
	c.must(http.StatusOK, "POST", "/v1/memories/lookup", map[string]any{"ids": []string{b, missing, a, b}}, &found)
	if got := contents(found.Memories); !slices.Equal(got, []string{"bravo", "alpha"}) {
		t.Fatalf("lookup = %v; want [bravo alpha]", got)
	}
	if found.Memories[0].Score != nil {
		t.Fatalf("a lookup has no score, got %v", *found.Memories[0].Score)
	}
}

// The workspace server PUTs a memory's namespace before every commit: a PUT
// that changes nothing must not write (no new row version, no WAL, no
// synchronous commit), and one that changes something must.
func TestPutNamespaceThatChangesNothingWritesNothing(t *testing.T) {
	t.Parallel()
	url := pgtest.New(t)
	c := serve(t, open(t, plugin.Config{DatabaseURL: url, EmbeddingDim: 8}))
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	version := func() (xmin string) {
		if err := conn.QueryRow(context.Background(), "SELECT xmin::text FROM memory_plugin.memory_namespaces WHERE name = $1", ws).Scan(&xmin); err != nil {
			t.Fatal(err)
		}
		return xmin
	}
	type ns struct {
		Metadata  map[string]any `json:"metadata"`
		UpdatedAt string         `json:"updated_at"`
	}
	body := `{"kind":"workspace","expires_at":"2099-01-01T00:00:00Z","metadata":{"b":1}}`
	var first, again, changed ns
	c.must(http.StatusOK, "PUT", "/v1/namespaces/"+ws, body, &first)
	before := version()
	for range 3 {
		c.must(http.StatusOK, "PUT", "/v1/namespaces/"+ws, body, &again)
	}
	if after := version(); after != before || again.UpdatedAt != first.UpdatedAt || again.Metadata["b"] != 1.0 {
		t.Fatalf("a PUT that changes nothing wrote: xmin %s -> %s, updated_at %s -> %s, answer %+v", before, after, first.UpdatedAt, again.UpdatedAt, again)
	}
	c.must(http.StatusOK, "PUT", "/v1/namespaces/"+ws, `{"kind":"workspace","expires_at":"2099-01-01T00:00:00Z","metadata":{"b":2}}`, &changed)
	if version() == before || changed.UpdatedAt == first.UpdatedAt || changed.Metadata["b"] != 2.0 {
		t.Fatalf("a PUT that changes metadata did not write: %+v", changed)
	}
	// Clearing a field is a change too.
	c.must(http.StatusOK, "PUT", "/v1/namespaces/"+ws, `{"kind":"workspace"}`, &changed)
	if changed.Metadata != nil {
		t.Fatalf("a PUT without metadata kept it: %+v", changed)
	}
}

// A batch is written by one statement over arrays, which cannot touch a row
// twice: items with the same id must still end as writing them in request
// order would (the last item's fields, the last created_at sent, an existing
// row's created_at kept otherwise), with every item answered "written".
func TestBatchWithRepeatedIDsEndsAsWrittenInOrder(t *testing.T) {
	t.Parallel()
	c := start(t, plugin.Config{DatabaseURL: pgtest.New(t), EmbeddingDim: 8})
	const a, b = "0b7f6c1e-3d0a-4a51-9a43-5b2f3c4d5e6f", "1b7f6c1e-3d0a-4a51-9a43-5b2f3c4d5e6f"
	other := "team:" + strings.Repeat("7", 8)
	c.commit(ws, "b before the batch", map[string]any{"id": b, "created_at": "2001-01-01T00:00:00Z"})
	item := func(id, ns, content string, extra map[string]any) map[string]any {
		m := map[string]any{"id": id, "namespace": ns, "content": content, "kind": "fact", "source": "agent"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	var answer struct {
		Results []struct {
			Index  int
			ID     string
			Status string
		}
	}
	c.must(http.StatusOK, "POST", "/v1/memories/batch", map[string]any{"memories": []any{
		item(a, ws, "a first", map[string]any{"created_at": "2010-01-01T00:00:00Z", "pin": true}),
		item(b, ws, "b second", map[string]any{"propagation": map[string]any{"x": 1}}),
		item(a, ws, "a second", nil),
		item(a, other, "a last", map[string]any{"metadata": map[string]any{"k": "v"}}),
	}}, &answer)
	if len(answer.Results) != 4 {
		t.Fatalf("results %+v; want 4", answer.Results)
	}
	for i, r := range answer.Results {
		if r.Index != i || r.Status != "written" {
			t.Fatalf("result %d: %+v; want written", i, r)
		}
	}
	var found memories
	c.must(http.StatusOK, "POST", "/v1/memories/lookup", map[string]any{"ids": []string{a, b}}, &found)
	if len(found.Memories) != 2 {
		t.Fatalf("lookup found %d memories; want 2", len(found.Memories))
	}
	ma, mb := found.Memories[0], found.Memories[1]
	if ma.Content != "a last" || ma.Namespace != other || ma.Pin || string(ma.Metadata) != `{"k":"v"}` ||
		!ma.CreatedAt.Equal(time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("a = %+v; want the last item's fields and the first item's created_at", ma)
	}
	if mb.Content != "b second" || string(mb.Propagation) != `{"x":1}` || !mb.CreatedAt.Equal(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("b = %+v; want the batch's fields and the stored created_at", mb)
	}
}
