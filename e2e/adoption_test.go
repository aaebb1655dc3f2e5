package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentplatform/tenant-init/internal/pgtest"
	"github.com/agentplatform/tenant-init/pluginbench"
)

// TestACutoverOnThePlatformPluginsTablesAdoptsThem redeploys, on the tenant
// image with the cutover, a tenant whose database holds the tables the
// platform's own plugin left: the sidecar passes the gate, and every memory
// is recalled, by full text at once and by vector once adoption is done.
func TestACutoverOnThePlatformPluginsTablesAdoptsThem(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	seeded := seedPlatformPlugin(t, db)
	port := freePort(t)
	tenant := start(t, spec{env: cutoverEnv(db, port)})
	tenant.waitFor(t, "demomain: round trip ok") // the sidecar passed the gate
	plugin := pluginClient{base: fmt.Sprintf("http://127.0.0.1:%d", port)}

	namespaces := []string{"workspace:5d1c8b8e-0d0e-4b8e-9a51-3f2f7c1a0001", "team:5d1c8b8e-0d0e-4b8e-9a51-3f2f7c1a0003"}
	recalled := func(t *testing.T) {
		t.Helper()
		for id, content := range seeded {
			var answer struct {
				Memories []pluginMemory `json:"memories"`
			}
			word := content[strings.LastIndex(content, " ")+1:]
			plugin.do(t, http.MethodPost, "/v1/search", map[string]any{"namespaces": namespaces, "query": word}, http.StatusOK, &answer)
			if len(answer.Memories) == 0 || answer.Memories[0].ID != id {
				t.Errorf("query %q found %v; want memory %s first", word, answer.Memories, id)
			}
		}
	}
	t.Run("every memory is recalled once the sidecar is healthy", recalled)

	t.Run("adoption finishes in the background and recall still holds", func(t *testing.T) {
		// The plugin says so in its log; the health field must then agree.
		if err := tenant.out.waitFor("adoption finished", tenant.exited, 2*time.Minute); err != nil {
			t.Fatalf("%s: %v\noutput so far:\n%s", tenant.name, err, tenant.out.text())
		}
		var h struct {
			Status   string `json:"status"`
			Adoption *struct {
				State       string `json:"state"`
				Done, Total int
			} `json:"adoption"`
		}
		plugin.do(t, http.MethodGet, "/v1/health", nil, http.StatusOK, &h)
		if h.Adoption == nil {
			t.Fatalf("health has no adoption field: %+v", h)
		}
		// Total counts the schema's memories when adoption starts: the
		// seeded ones, and the demo main service's own commit when it
		// lands first (a race the boot does not order, and need not).
		if h.Adoption.State != "done" || h.Adoption.Done != h.Adoption.Total || h.Adoption.Total < len(seeded) || h.Adoption.Total > len(seeded)+1 {
			t.Fatalf("after the log said adoption finished, health reports %+v; want done, all of the %d seeded memories (and the demo's one when it came first)", h.Adoption, len(seeded))
		}
		recalled(t)
	})
}

// seedPlatformPlugin creates the platform plugin's tables (pgvector in its
// schema) with a few memories, one carrying a 1536-d vector of another model,
// and returns their contents by id.
func seedPlatformPlugin(t *testing.T, url string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, pluginbench.PlatformSchema("memory_plugin")); err != nil {
		t.Fatalf("creating the platform plugin's tables: %v", err)
	}
	if _, err := conn.Exec(ctx, `
		INSERT INTO memory_plugin.memory_namespaces (name, kind, metadata) VALUES
			('workspace:5d1c8b8e-0d0e-4b8e-9a51-3f2f7c1a0001', 'workspace', '{"owner": "alice"}'),
			('team:5d1c8b8e-0d0e-4b8e-9a51-3f2f7c1a0003', 'team', NULL)`); err != nil {
		t.Fatal(err)
	}
	seeded := map[string]string{}
	for i, m := range []struct {
		namespace, content string
		pin, vector        bool
	}{
		{"workspace:5d1c8b8e-0d0e-4b8e-9a51-3f2f7c1a0001", "the deploy key rotates every quarter", true, false},
		{"workspace:5d1c8b8e-0d0e-4b8e-9a51-3f2f7c1a0001", "Alice reviews every billing migration", false, true},
		{"team:5d1c8b8e-0d0e-4b8e-9a51-3f2f7c1a0003", "the team's staging cluster is called bluefin", false, false},
	} {
		vector := "NULL"
		if m.vector {
			vector = "array_fill(0.01::real, ARRAY[1536])::memory_plugin.vector"
		}
		var id string
		err := conn.QueryRow(ctx, `INSERT INTO memory_plugin.memory_records (namespace, content, kind, source, pin, propagation, embedding, created_at)
			VALUES ($1, $2, 'fact', 'agent', $3, '{"scope": "team"}', `+vector+`, now() - $4 * interval '1 day') RETURNING id`,
			m.namespace, m.content, m.pin, i+1).Scan(&id)
		if err != nil {
			t.Fatalf("inserting a platform memory: %v", err)
		}
		seeded[id] = m.content
	}
	return seeded
}
