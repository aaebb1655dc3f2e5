package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/agentplatform/tenant-init/internal/pgtest"
	"github.com/agentplatform/tenant-init/plugin"
)

// The contract as the platform's workspace server uses it: each test is one
// call pattern of its client that an earlier version of this plugin broke.

// The admin export sends every namespace of an organisation in one search.
func TestASearchOverFiveHundredNamespacesAnswersQuickly(t *testing.T) {
	t.Parallel()
	c := start(t, plugin.Config{EmbeddingDim: 8})
	names := make([]string, 500)
	for i := range names {
		names[i] = fmt.Sprintf("workspace:export-%03d", i)
	}
	for _, i := range []int{0, 250, 499} {
		c.commit(names[i], fmt.Sprintf("export memory in namespace %d", i), nil)
	}
	for _, req := range []map[string]any{
		{"namespaces": names},
		{"namespaces": names, "query": "export memory"},
	} {
		start := time.Now()
		got := c.search(req)
		took := time.Since(start)
		t.Logf("search with query %q over 500 namespaces: %d memories in %v", req["query"], len(got), took)
		if len(got) != 3 {
			t.Fatalf("found %v; want the 3 memories", contents(got))
		}
		// Far below the client's 2 s per-call timeout, even on a loaded machine.
		if took > time.Second {
			t.Fatalf("took %v; want well under the client's 2 s timeout", took)
		}
	}
}

func TestACommitWithAnExistingIDMovesTheMemoryToTheRequestsNamespace(t *testing.T) {
	t.Parallel()
	c := start(t, plugin.Config{EmbeddingDim: 8})
	team := "team:7a0c2a54-1111-4c4c-9d9d-000000000001"
	lookup := func(id string) memory {
		var found memories
		c.must(http.StatusOK, "POST", "/v1/memories/lookup", map[string]any{"ids": []string{id}}, &found)
		if len(found.Memories) != 1 {
			t.Fatalf("lookup of %s found %d memories", id, len(found.Memories))
		}
		return found.Memories[0]
	}
	t.Run("by a single commit, to a namespace that did not exist yet", func(t *testing.T) {
		c.t = t
		id := c.commit(team, "first written in the team", map[string]any{"created_at": "2024-01-01T00:00:00Z"})
		if got := c.commit(ws, "now in the workspace", map[string]any{"id": id}); got != id {
			t.Fatalf("commit answered id %s; want %s", got, id)
		}
		m := lookup(id)
		if m.Namespace != ws || m.Content != "now in the workspace" || m.CreatedAt.Year() != 2024 {
			t.Fatalf("after the move: %+v; want namespace %s, new content, created_at kept", m, ws)
		}
		if got := c.search(map[string]any{"namespaces": []string{team}}); len(got) != 0 {
			t.Fatalf("the old namespace still lists %v", contents(got))
		}
	})
	t.Run("by a batch item", func(t *testing.T) {
		c.t = t
		id := c.commit(ws, "written in the workspace", nil)
		var answer struct {
			Results []struct{ Status, Namespace string }
		}
		c.must(http.StatusOK, "POST", "/v1/memories/batch", map[string]any{"memories": []map[string]any{
			{"namespace": "org:acme", "id": id, "content": "moved by a batch", "kind": "fact", "source": "agent"},
		}}, &answer)
		if len(answer.Results) != 1 || answer.Results[0].Status != "written" || answer.Results[0].Namespace != "org:acme" {
			t.Fatalf("batch answered %+v", answer)
		}
		if m := lookup(id); m.Namespace != "org:acme" || m.Content != "moved by a batch" {
			t.Fatalf("after the move: %+v", m)
		}
	})
}

func TestPropagationAndMetadataMustBeObjectsOrNull(t *testing.T) {
	t.Parallel()
	c := start(t, plugin.Config{EmbeddingDim: 8})
	c.must(http.StatusOK, "PUT", "/v1/namespaces/"+ws, map[string]any{"kind": "workspace"}, nil)
	commit := "/v1/namespaces/" + ws + "/memories"
	for _, bad := range []struct{ value, kind string }{
		{`[1,2]`, "an array"}, {`"text"`, "a string"}, {`42`, "a number"}, {`true`, "a boolean"},
	} {
		tests := []struct {
			name, method, path, body, field string
		}{
			{"propagation of a commit", "POST", commit, `{"content":"x","kind":"fact","source":"agent","propagation":` + bad.value + `}`, "propagation"},
			{"metadata of a namespace PUT", "PUT", "/v1/namespaces/" + ws, `{"kind":"workspace","metadata":` + bad.value + `}`, "metadata"},
			{"metadata of a namespace PATCH", "PATCH", "/v1/namespaces/" + ws, `{"metadata":` + bad.value + `}`, "metadata"},
		}
		for _, tt := range tests {
			t.Run(tt.name+" as "+bad.kind+" is a 400 naming the field", func(t *testing.T) {
				c.t = t
				status, data := c.call(tt.method, tt.path, tt.body)
				var e envelope
				json.Unmarshal(data, &e)
				want := tt.field + " must be a JSON object or null, not " + bad.kind
				if status != http.StatusBadRequest || e.Details["field"] != tt.field || !strings.Contains(e.Message, want) {
					t.Fatalf("got %d %s; want 400 with %q and details.field %q", status, data, want, tt.field)
				}
			})
		}
		t.Run("propagation of a batch item as "+bad.kind+" is refused in its result", func(t *testing.T) {
			c.t = t
			var answer struct {
				Results []struct{ Status, Message string }
			}
			c.must(http.StatusOK, "POST", "/v1/memories/batch",
				`{"memories":[{"namespace":"`+ws+`","content":"x","kind":"fact","source":"agent","propagation":`+bad.value+`}]}`, &answer)
			if r := answer.Results[0]; r.Status != "error" || !strings.Contains(r.Message, "propagation must be a JSON object or null") {
				t.Fatalf("batch result %+v", r)
			}
		})
	}
	t.Run("objects and null are stored", func(t *testing.T) {
		c.t = t
		id := c.commit(ws, "with propagation", map[string]any{"propagation": json.RawMessage(`{"to":["team"]}`)})
		c.commit(ws, "with null propagation", map[string]any{"propagation": nil})
		var found memories
		c.must(http.StatusOK, "POST", "/v1/memories/lookup", map[string]any{"ids": []string{id}}, &found)
		if string(found.Memories[0].Propagation) != `{"to":["team"]}` {
			t.Fatalf("propagation came back as %s", found.Memories[0].Propagation)
		}
	})
}

// A row some other writer left with a non-object (the platform's plugin took
// any JSON) is served with that field null, so that the client's decoding of
// the whole answer survives; the row itself is not changed.
func TestAStoredNonObjectIsServedAsNull(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.New(t)
	c := serve(t, open(t, plugin.Config{DatabaseURL: dbURL, EmbeddingDim: 8}))
	id := c.commit(ws, "a memory some old writer spoiled", nil)
	c.commit(ws, "a healthy neighbour", map[string]any{"propagation": json.RawMessage(`{"ok":true}`)})
	conn := pgtest.Connect(t, dbURL)
	_, err := conn.Exec(context.Background(), `
		UPDATE memory_plugin.memory_records SET propagation = '[1,2]' WHERE id = '`+id+`';
		UPDATE memory_plugin.memory_namespaces SET metadata = '"a string"'`)
	if err != nil {
		t.Fatal(err)
	}
	got := c.search(map[string]any{"namespaces": []string{ws}})
	if len(got) != 2 {
		t.Fatalf("search found %v", contents(got))
	}
	for _, m := range got {
		switch {
		case m.ID == id && !null(m.Propagation):
			t.Fatalf("the spoiled propagation came back as %s; want null", m.Propagation)
		case m.ID != id && string(m.Propagation) != `{"ok":true}`:
			t.Fatalf("the healthy propagation came back as %s", m.Propagation)
		}
	}
	var ns struct{ Metadata json.RawMessage }
	c.must(http.StatusOK, "PATCH", "/v1/namespaces/"+ws, `{"expires_at":null}`, &ns)
	if !null(ns.Metadata) {
		t.Fatalf("the spoiled namespace metadata came back as %s; want null", ns.Metadata)
	}
	var stored string
	if err := conn.QueryRow(context.Background(), "SELECT propagation::text FROM memory_plugin.memory_records WHERE id = $1", id).Scan(&stored); err != nil || stored != "[1,2]" {
		t.Fatalf("the stored value is %q (%v); want it left as it was", stored, err)
	}
}

func TestUnknownFieldsAreIgnoredAndLoggedAtDebug(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	c := start(t, plugin.Config{EmbeddingDim: 8, Logger: zap.New(core)})
	commit := "/v1/namespaces/" + ws + "/memories"
	tests := []struct {
		name, method, path, body string
		want                     int
		field                    string
	}{
		{"a namespace PUT", "PUT", "/v1/namespaces/" + ws, `{"kind":"workspace","colour":"red"}`, 200, "colour"},
		{"a namespace PATCH", "PATCH", "/v1/namespaces/" + ws, `{"metadata":null,"since":"v2"}`, 200, "since"},
		{"a commit", "POST", commit, `{"content":"x","kind":"fact","source":"agent","importance":0.7}`, 201, "importance"},
		{"a commit naming a namespace in the body (the path names it)", "POST", commit, `{"content":"y","kind":"fact","source":"agent","namespace":"org:elsewhere"}`, 201, ""},
		{"a search", "POST", "/v1/search", `{"namespaces":["` + ws + `"],"rerank":{"model":"x"}}`, 200, "rerank"},
		{"a memory delete", "DELETE", "/v1/memories/00000000-0000-4000-8000-000000000000", `{"requested_by_namespace":"` + ws + `","reason":"gc"}`, 404, "reason"},
	}
	for _, tt := range tests {
		t.Run("an unknown field of "+tt.name+" is ignored", func(t *testing.T) {
			c.t = t
			if status, data := c.call(tt.method, tt.path, tt.body); status != tt.want {
				t.Fatalf("got %d %s; want %d", status, data, tt.want)
			}
			if tt.field == "" {
				return // known to batch items, so not logged
			}
			found := logs.FilterMessage("ignored unknown request fields").FilterField(zap.Strings("fields", []string{tt.field})).Len()
			if found == 0 {
				t.Fatalf("no debug line names the ignored field %q", tt.field)
			}
		})
	}
	t.Run("a known field of the wrong type is still a 400 naming it", func(t *testing.T) {
		c.t = t
		status, data := c.call("POST", commit, `{"content":"x","kind":"fact","source":"agent","pin":"yes","extra":1}`)
		if status != http.StatusBadRequest || !strings.Contains(string(data), "pin must be a boolean") {
			t.Fatalf("got %d %s", status, data)
		}
	})
	if got := c.search(map[string]any{"namespaces": []string{"org:elsewhere"}}); len(got) != 0 {
		t.Fatalf("a namespace in a commit body was used: %v", contents(got))
	}
}

func TestNoMatchIsAnEmptyListNeverNull(t *testing.T) {
	t.Parallel()
	c := start(t, plugin.Config{EmbeddingDim: 8})
	c.commit(ws, "the only memory", nil)
	for _, body := range []string{
		`{"namespaces":["workspace:nothing-here"]}`,
		`{"namespaces":["workspace:nothing-here"],"query":"the only memory"}`,
		`{"namespaces":["` + ws + `"],"kinds":["summary"]}`,
	} {
		status, data := c.call("POST", "/v1/search", body)
		if status != http.StatusOK || strings.TrimSpace(string(data)) != `{"memories":[]}` {
			t.Fatalf("search %s = %d %s; want 200 {\"memories\":[]}", body, status, data)
		}
	}
}

func TestListingWithoutAQueryIsPinnedFirstThenNewestWithNullScores(t *testing.T) {
	t.Parallel()
	c := start(t, plugin.Config{EmbeddingDim: 8})
	at := func(h int) map[string]any {
		return map[string]any{"created_at": time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC).Format(time.RFC3339)}
	}
	c.commit(ws, "oldest", at(1))
	old := at(2)
	old["pin"] = true
	c.commit(ws, "pinned but old", old)
	c.commit(ws, "newest", at(5))
	c.commit(ws, "middle", at(3))
	got := c.search(map[string]any{"namespaces": []string{ws}})
	if want := "pinned but old,newest,middle,oldest"; strings.Join(contents(got), ",") != want {
		t.Fatalf("order %v; want %s", contents(got), want)
	}
	for _, m := range got {
		if m.Score != nil {
			t.Fatalf("%q has score %v; want null", m.Content, *m.Score)
		}
	}
}
