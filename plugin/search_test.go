package plugin_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/plugin"
)

func TestASearchNeverReturnsAnotherNamespacesMemory(t *testing.T) {
	c := start(t, plugin.Config{})
	a, b := "workspace:a", "workspace:b"
	c.commit(a, "the launch code is in the red binder", nil)
	c.commit(b, "the launch code is in the red binder", nil)
	c.commit(b, "the launch code is in the blue binder", nil)
	for _, req := range []map[string]any{
		{"namespaces": []string{a}, "query": "launch code binder"},
		{"namespaces": []string{a}},
		{"namespaces": []string{a}, "query": "nothing matches this"},
	} {
		for _, m := range c.search(req) {
			if m.Namespace != a {
				t.Fatalf("search %v returned %+v of another namespace", req, m)
			}
		}
	}
	if got := c.search(map[string]any{"namespaces": []string{a, b}, "query": "launch code"}); len(got) != 3 {
		t.Fatalf("a search of both namespaces found %d memories; want 3", len(got))
	}
}

func TestExpiredMemoriesNeverComeBack(t *testing.T) {
	c := start(t, plugin.Config{})
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	gone := c.commit(ws, "the wifi password is hunter2", map[string]any{"expires_at": past})
	goneToo := c.commit(ws, "the wifi password was hunter1", map[string]any{"expires_at": past, "pin": true})
	kept := c.commit(ws, "the wifi password is hunter3", map[string]any{"expires_at": future})
	// A namespace that expired takes its memories with it.
	c.must(http.StatusOK, "PUT", "/v1/namespaces/team:old", map[string]any{"kind": "team", "expires_at": past}, nil)
	inOld := c.commit("team:old", "the wifi password is hunter4", nil)

	for _, req := range []map[string]any{
		{"namespaces": []string{ws, "team:old"}, "query": "wifi password hunter2"},
		{"namespaces": []string{ws, "team:old"}},
		{"namespaces": []string{ws, "team:old"}, "query": "wifi", "kinds": []string{"fact"}},
	} {
		got := c.search(req)
		for _, m := range got {
			if m.ID == gone || m.ID == goneToo || m.ID == inOld {
				t.Fatalf("search %v returned an expired memory: %+v", req, m)
			}
		}
		if len(got) != 1 || got[0].ID != kept {
			t.Fatalf("search %v = %v; want only the live memory", req, contents(got))
		}
	}
	var found memories
	c.must(http.StatusOK, "POST", "/v1/memories/lookup", map[string]any{"ids": []string{gone, kept, inOld}}, &found)
	if len(found.Memories) != 1 || found.Memories[0].ID != kept {
		t.Fatalf("lookup returned %v; want only the live memory", contents(found.Memories))
	}
}

func TestPinnedMemoriesRankFirstAmongWhatIsRelated(t *testing.T) {
	c := start(t, plugin.Config{})
	c.commit(ws, "the deploy runs every friday at noon", nil)
	c.commit(ws, "the deploy pipeline lives in ci/deploy.yaml", nil)
	pinned := c.commit(ws, "the deploy is frozen over the holidays", map[string]any{"pin": true})
	unrelated := c.commit(ws, "never page Alice before 9am", map[string]any{"pin": true})
	t.Run("a query puts the related pinned memory first and leaves the unrelated one out", func(t *testing.T) {
		got := c.search(map[string]any{"namespaces": []string{ws}, "query": "deploy friday"})
		if len(got) != 3 || got[0].ID != pinned {
			t.Fatalf("got %v; want the related pinned memory first of 3", contents(got))
		}
		for _, m := range got {
			if m.ID == unrelated {
				t.Fatalf("the unrelated pinned memory came back: %v", contents(got))
			}
		}
	})
	t.Run("a listing puts every pinned memory first", func(t *testing.T) {
		got := c.search(map[string]any{"namespaces": []string{ws}})
		if len(got) != 4 || !got[0].Pin || !got[1].Pin || got[2].Pin {
			t.Fatalf("got %v; want the 2 pinned memories first of 4", contents(got))
		}
	})
}

func TestEveryResultHasAScoreThatFollowsTheOrder(t *testing.T) {
	c := start(t, plugin.Config{})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		c.commit(ws, fmt.Sprintf("note number %d about the build", i), map[string]any{"created_at": base.Add(time.Duration(i) * time.Hour).Format(time.RFC3339)})
	}
	t.Run("without query and embedding the newest come first with a null score", func(t *testing.T) {
		got := c.search(map[string]any{"namespaces": []string{ws}, "limit": 3})
		if len(got) != 3 || got[0].Content != "note number 4 about the build" || got[2].Content != "note number 2 about the build" {
			t.Fatalf("recency order = %v", contents(got))
		}
		for i, m := range got {
			if m.Score != nil {
				t.Fatalf("listed memory %d has score %v; want null", i, *m.Score)
			}
		}
	})
	t.Run("with a query scores are RRF scores, highest first", func(t *testing.T) {
		got := c.search(map[string]any{"namespaces": []string{ws}, "query": "note number 3"})
		if len(got) != 5 || got[0].Content != "note number 3 about the build" {
			t.Fatalf("hybrid order = %v", contents(got))
		}
		checkScores(t, got)
		// First in both lists: 2/(60+1).
		if math.Abs(*got[0].Score-2.0/61) > 1e-9 {
			t.Fatalf("top score %v; want 2/61 (rank 1 in both lists)", *got[0].Score)
		}
	})
}

func checkScores(t *testing.T, ms []memory) {
	t.Helper()
	for i, m := range ms {
		if m.Score == nil || *m.Score <= 0 {
			t.Fatalf("result %d has score %v; want a positive number", i, m.Score)
		}
		if i > 0 && *m.Score > *ms[i-1].Score {
			t.Fatalf("score %v after %v: not in descending order", *m.Score, *ms[i-1].Score)
		}
	}
}

func TestAKindsFilterReturnsOnlyThoseKinds(t *testing.T) {
	c := start(t, plugin.Config{})
	c.commit(ws, "build is green", map[string]any{"kind": "fact"})
	c.commit(ws, "build summary: mostly green", map[string]any{"kind": "summary"})
	c.commit(ws, "build checkpoint 7", map[string]any{"kind": "checkpoint"})
	got := c.search(map[string]any{"namespaces": []string{ws}, "query": "build", "kinds": []string{"summary", "checkpoint"}})
	if len(got) != 2 || slices.ContainsFunc(got, func(m memory) bool { return m.Kind == "fact" }) {
		t.Fatalf("kinds filter returned %v", got)
	}
}

// The built-in embedder and the full-text index find different things: a
// question that contains a rare identifier finds the memory holding it by
// keyword, and a memory that says the same thing in other words by vector.
func TestAHybridQueryFindsAnExactKeywordAndANearDuplicatePhrasing(t *testing.T) {
	c := start(t, plugin.Config{})
	for _, d := range []string{
		"the office coffee machine is broken again",
		"Alice owns the billing service",
		"quarterly planning happens in the big meeting room",
		"the deploy pipeline takes twenty minutes",
		"our API keys live in the vault",
		"the login page has a flaky test",
		"Bob prefers tabs over spaces",
		"staging database backups run nightly",
		"we rotate on-call duty weekly",
		"the marketing site is built with hugo",
	} {
		c.commit(ws, d, nil)
	}
	keyword := c.commit(ws, "ticket QZ7731 tracks the certificate renewal", nil)
	// The same fact in British spelling and other word forms: the english
	// stemmer keeps organis/organ, licens/licenc and e-mail/email apart, so
	// only the vector list (character n-grams) can find it.
	nearDup := c.commit(ws, "the organisation's e-mail license expires soon", nil)

	got := c.search(map[string]any{"namespaces": []string{ws}, "query": "QZ7731 organization email licence renewal", "limit": 3})
	for _, m := range got {
		t.Logf("%.5f %s", *m.Score, m.Content)
	}
	ids := make([]string, len(got))
	for i, m := range got {
		ids[i] = m.ID
	}
	if !slices.Contains(ids, keyword) || !slices.Contains(ids, nearDup) {
		t.Fatalf("top 3 = %v; want the keyword match and the near-duplicate", contents(got))
	}
}

// Filtered vector queries still return limit rows: a namespace, kinds and TTL
// filter over an HNSW scan would otherwise stop after ef_search candidates.
func TestAFilteredVectorSearchStillReturnsLimitResults(t *testing.T) {
	const dim = 32
	// Random vectors are unrelated to each other: with the relevance floor
	// off, every neighbour counts, which is what this test is about.
	noFloor := 0.0
	c := start(t, plugin.Config{EmbeddingDim: dim, MinSimilarity: &noFloor})
	rng := rand.New(rand.NewPCG(1, 2))
	vec := func() []float64 {
		v := make([]float64, dim)
		for i := range v {
			v[i] = rng.Float64() - 0.5
		}
		return v
	}
	load := func(n int, item func(i int) map[string]any) {
		for start := 0; start < n; start += 500 {
			var batch []map[string]any
			for i := start; i < min(n, start+500); i++ {
				batch = append(batch, item(i))
			}
			var answer struct {
				Results []struct{ Status, Message string }
			}
			c.must(http.StatusOK, "POST", "/v1/memories/batch", map[string]any{"memories": batch}, &answer)
			for _, r := range answer.Results {
				if r.Status != "written" {
					t.Fatalf("batch item: %+v", r)
				}
			}
		}
	}
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	// Half the rows in other namespaces, and among the queried namespace's
	// rows many expired or of another kind.
	load(1600, func(i int) map[string]any {
		m := map[string]any{"namespace": "workspace:crowd", "content": fmt.Sprintf("crowd %d", i), "kind": "fact", "source": "agent", "embedding": vec()}
		switch i % 4 {
		case 0, 1:
			m["namespace"] = fmt.Sprintf("workspace:other%d", i%7)
		case 2:
			m["expires_at"] = past
		}
		if i%8 == 3 {
			m["kind"] = "summary"
		}
		return m
	})
	load(30, func(i int) map[string]any {
		return map[string]any{"namespace": "workspace:few", "content": fmt.Sprintf("few %d", i), "kind": "fact", "source": "agent", "embedding": vec()}
	})
	tests := []struct {
		name string
		req  map[string]any
		want int
	}{
		{"a namespace with few rows among many gives all of them up to the limit", map[string]any{"namespaces": []string{"workspace:few"}, "limit": 20}, 20},
		{"a namespace with few rows gives every row when the limit is larger", map[string]any{"namespaces": []string{"workspace:few"}, "limit": 100}, 30},
		{"a crowded namespace with expired rows and a kinds filter still fills the limit", map[string]any{"namespaces": []string{"workspace:crowd"}, "kinds": []string{"fact"}, "limit": 100}, 100},
		{"a rare kind in a crowded namespace fills the limit", map[string]any{"namespaces": []string{"workspace:crowd"}, "kinds": []string{"summary"}, "limit": 100}, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			tt.req["embedding"] = vec()
			if got := c.search(tt.req); len(got) != tt.want {
				t.Fatalf("got %d memories; want %d", len(got), tt.want)
			}
		})
	}
}
