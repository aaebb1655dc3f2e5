package plugin_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/agentplatform/tenant-init/plugin"
)

// Memories of a small team, as agents write them.
var teamMemories = []string{
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
}

// nonsense returns n queries of 1 to 3 made-up words, the same every run.
func nonsense(n int) []string {
	rng := rand.New(rand.NewPCG(11, 12))
	out := make([]string, n)
	for i := range out {
		var words []string
		for range 1 + rng.IntN(3) {
			w := make([]byte, 4+rng.IntN(6))
			for j := range w {
				w[j] = byte('a' + rng.IntN(26))
			}
			words = append(words, string(w))
		}
		out[i] = strings.Join(words, " ")
	}
	return out
}

func TestAQueryNothingRelatesToReturnsNothing(t *testing.T) {
	t.Parallel()
	c := start(t, plugin.Config{})
	for _, m := range teamMemories {
		c.commit(ws, m, nil)
	}
	c.commit(ws, "never page Alice before 9am", map[string]any{"pin": true})
	queries := append([]string{"zebra", "giraffes eat acacia leaves on the savanna"}, nonsense(50)...)
	empty := 0
	for _, q := range queries {
		got := c.search(map[string]any{"namespaces": []string{ws}, "query": q})
		if len(got) == 0 {
			empty++
			continue
		}
		t.Errorf("query %q returned %v; want nothing", q, contents(got))
	}
	t.Logf("%d of %d unrelated queries came back empty", empty, len(queries))
}

func TestAQueryReturnsWhatRelatesToIt(t *testing.T) {
	t.Parallel()
	c := start(t, plugin.Config{})
	for _, m := range teamMemories {
		c.commit(ws, m, nil)
	}
	tests := []struct{ query, want string }{
		{"who owns billing", "Alice owns the billing service"},
		{"how long does deploying take", "the deploy pipeline takes twenty minutes"},
		{"database backup schedule", "staging database backups run nightly"},
		{"coffee", "the office coffee machine is broken again"},
		// No word in common with the memory: only the vector list finds it.
		{"rotation of on-calls", "we rotate on-call duty weekly"},
	}
	for _, tt := range tests {
		got := c.search(map[string]any{"namespaces": []string{ws}, "query": tt.query})
		if len(got) == 0 || got[0].Content != tt.want {
			t.Errorf("query %q returned %v; want %q first", tt.query, contents(got), tt.want)
		}
	}
}

func TestAOneCharacterQueryListsTheMemoriesContainingIt(t *testing.T) {
	t.Parallel()
	c := start(t, plugin.Config{EmbeddingDim: 8})
	c.commit(ws, "plan A", nil)
	c.commit(ws, "plan b", nil)
	c.commit(ws, "nothing", nil)
	got := c.search(map[string]any{"namespaces": []string{ws}, "query": "a"})
	if strings.Join(contents(got), ",") != "plan b,plan A" {
		t.Fatalf("got %v; want the two memories containing a, newest first", contents(got))
	}
	for _, m := range got {
		if m.Score != nil {
			t.Fatalf("score %v; want null", *m.Score)
		}
	}
}
