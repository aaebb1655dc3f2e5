package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestTheOperatorRunbookWorksThroughDockerExec follows the runbook of
// docs/boot.md on a tenant with legacy memories: check in the running
// tenant, redeploy with the cutover, then backfill -dry-run, -apply, -verify.
func TestTheOperatorRunbookWorksThroughDockerExec(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	legacy := seedLegacyMemories(t, db)
	port := freePort(t)
	cutover := cutoverEnv(db, port)

	before := start(t, spec{env: []string{"DATABASE_URL=" + db}})
	before.waitFor(t, "demomain: started")
	ok := t.Run("check in the running tenant passes for the cutover it is about to get", func(t *testing.T) {
		out, code := before.exec(t, cutover, "/tenant-init", "check")
		if code != 0 || !strings.Contains(out, "pgvector") {
			t.Fatalf("tenant-init check: exit status %d, want 0 with the pgvector check:\n%s", code, out)
		}
		out, code = before.exec(t, cutover, "/tenant-init", "check", "--json")
		if code != 0 || !json.Valid([]byte(out)) {
			t.Fatalf("tenant-init check --json: exit status %d, want 0 and one JSON document:\n%s", code, out)
		}
	})
	if !ok {
		return
	}
	before.stop(t, stopGrace)

	tenant := start(t, spec{env: cutover})
	tenant.waitFor(t, "demomain: round trip ok")
	plugin := pluginClient{base: fmt.Sprintf("http://127.0.0.1:%d", port)}

	backfill := func(t *testing.T, entry []string, mode string) (string, int) {
		t.Helper()
		return tenant.exec(t, nil, append(entry, mode)...)
	}
	memoryBackfill := []string{"/memory-backfill"}
	missing := legacy.any() // deleted from the plugin to see -verify catch it

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"backfill -dry-run writes nothing to the plugin", func(t *testing.T) {
			if out, code := backfill(t, memoryBackfill, "-dry-run"); code != 0 {
				t.Fatalf("exit status %d, want 0:\n%s", code, out)
			}
			if got := plugin.lookup(t, legacy.ids()); len(got) != 0 {
				t.Fatalf("after a dry run the plugin holds %d of the legacy memories, want 0", len(got))
			}
		}},
		{"backfill -apply copies every legacy memory into its namespace", func(t *testing.T) {
			if out, code := backfill(t, memoryBackfill, "-apply"); code != 0 {
				t.Fatalf("exit status %d, want 0:\n%s", code, out)
			}
			got := plugin.lookup(t, legacy.ids())
			for id, want := range legacy {
				m, found := got[id]
				switch {
				case !found:
					t.Errorf("memory %s (%q) is not in the plugin", id, want.content)
				case m.Namespace != want.namespace || m.Content != want.content:
					t.Errorf("memory %s is %q in %s, want %q in %s", id, m.Content, m.Namespace, want.content, want.namespace)
				}
			}
		}},
		{"backfill -verify passes after the apply", func(t *testing.T) {
			if out, code := backfill(t, memoryBackfill, "-verify"); code != 0 {
				t.Fatalf("exit status %d, want 0:\n%s", code, out)
			}
		}},
		{"backfill -verify names a memory that went missing from the plugin", func(t *testing.T) {
			plugin.delete(t, missing, legacy[missing].namespace)
			out, code := backfill(t, memoryBackfill, "-verify")
			if code != 1 || !strings.Contains(out, missing) {
				t.Fatalf("exit status %d, want 1 naming %s:\n%s", code, missing, out)
			}
		}},
		{"tenant-init backfill is the same tool and names the same missing memory", func(t *testing.T) {
			out, code := backfill(t, []string{"/tenant-init", "backfill"}, "-verify")
			if code != 1 || !strings.Contains(out, missing) {
				t.Fatalf("exit status %d, want 1 naming %s:\n%s", code, missing, out)
			}
		}},
	}
	for _, step := range steps {
		if !t.Run(step.name, step.run) {
			return
		}
	}
}

// legacyMemory is what a v1 row must become in the plugin.
type legacyMemory struct {
	namespace string
	content   string
}

type legacyMemories map[string]legacyMemory // by id

func (l legacyMemories) ids() []string {
	ids := make([]string, 0, len(l))
	for id := range l {
		ids = append(ids, id)
	}
	return ids
}

func (l legacyMemories) any() string {
	for id := range l {
		return id
	}
	return ""
}

// seedLegacyMemories creates the v1 tables in the database and a small
// workspace tree (org → team → workspace) with memories of every scope, and
// returns where the backfill must put each one.
func seedLegacyMemories(t *testing.T, url string) legacyMemories {
	t.Helper()
	// The v1 schema of docs/legacy-v1-tables.md; backfill keeps the one copy (it embeds it).
	ddl, err := os.ReadFile("../backfill/testdata/v1-memories.sql")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, string(ddl)); err != nil {
		t.Fatalf("creating the v1 tables: %v", err)
	}
	workspace := func(name string, parent *string) string {
		var id string
		err := conn.QueryRow(ctx, "INSERT INTO workspaces (name, status, parent_id) VALUES ($1, 'online', $2) RETURNING id", name, parent).Scan(&id)
		if err != nil {
			t.Fatalf("inserting workspace %s: %v", name, err)
		}
		return id
	}
	org := workspace("org", nil)
	team := workspace("team", &org)
	ws := workspace("workspace", &team)

	memories := legacyMemories{}
	for _, m := range []struct {
		workspace, scope, content, namespace string
	}{
		{ws, "LOCAL", "the workspace prefers tabs", "workspace:" + ws},
		{ws, "TEAM", "the team deploys on Tuesdays", "team:" + team},
		{team, "LOCAL", "the team workspace keeps its own notes", "workspace:" + team},
		{org, "TEAM", "a root's team memory stays with the root", "team:" + org},
		{org, "GLOBAL", "the organisation's fiscal year starts in April", "org:" + org},
	} {
		var id string
		err := conn.QueryRow(ctx, "INSERT INTO agent_memories (workspace_id, content, scope) VALUES ($1, $2, $3) RETURNING id",
			m.workspace, m.content, m.scope).Scan(&id)
		if err != nil {
			t.Fatalf("inserting a memory: %v", err)
		}
		memories[id] = legacyMemory{namespace: m.namespace, content: m.content}
	}
	return memories
}

// pluginClient talks to the sidecar from the host: containers share its network.
type pluginClient struct{ base string }

type pluginMemory struct {
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	Content   string `json:"content"`
}

// lookup returns the memories the plugin holds among ids, by id.
func (p pluginClient) lookup(t *testing.T, ids []string) map[string]pluginMemory {
	t.Helper()
	var answer struct {
		Memories []pluginMemory `json:"memories"`
	}
	p.do(t, http.MethodPost, "/v1/memories/lookup", map[string]any{"ids": ids}, http.StatusOK, &answer)
	found := map[string]pluginMemory{}
	for _, m := range answer.Memories {
		found[m.ID] = m
	}
	return found
}

func (p pluginClient) delete(t *testing.T, id, namespace string) {
	t.Helper()
	p.do(t, http.MethodDelete, "/v1/memories/"+id, map[string]any{"requested_by_namespace": namespace}, http.StatusNoContent, nil)
}

func (p pluginClient) do(t *testing.T, method, path string, body any, want int, out any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, p.base+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s, want %d: %s", method, path, resp.Status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, path, data, err)
		}
	}
}
