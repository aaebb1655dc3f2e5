package pluginbench

import (
	"os/exec"
	"strings"
	"testing"
)

func goroot(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func TestTheCorpusIsTheSameOnEveryRunAndItsMemoriesDistinct(t *testing.T) {
	a, err := Generate(goroot(t), 100_000, 100, 200, 50)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(goroot(t), 100_000, 100, 200, 50)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, m := range a.Memories {
		if m != b.Memories[i] {
			t.Fatalf("memory %d differs between two runs: %q and %q", i, m.Content, b.Memories[i].Content)
		}
		if seen[m.Content] {
			t.Fatalf("memory %d repeats an earlier one: %q", i, m.Content)
		}
		seen[m.Content] = true
	}
	if len(a.Known) != 200 || len(a.Natural) != 200 || len(a.Unrelated) != 50 {
		t.Fatalf("queries: %d known, %d natural, %d unrelated; want 200, 200, 50", len(a.Known), len(a.Natural), len(a.Unrelated))
	}
	t.Logf("e.g. memory %q, known-item query %q, unrelated %q", a.Memories[500].Content, a.Known[0].Text, a.Unrelated[0].Text)
}

func TestAKnownItemQueryIsMadeOfItsMemorysWordsAndAskedOverAScopeThatHoldsIt(t *testing.T) {
	c, err := Generate(goroot(t), 20_000, 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Memory{}
	for _, m := range c.Memories {
		byID[m.ID] = m
	}
	for _, q := range c.Known {
		m := byID[q.Want]
		for _, w := range strings.Fields(q.Text) {
			if !strings.Contains(strings.ToLower(m.Content), w) {
				t.Errorf("query %q: %q is not in its memory %q", q.Text, w, m.Content)
			}
		}
		if len(q.Scope) != 3 || !contains(q.Scope, m.Namespace) {
			t.Errorf("query %q: scope %v does not hold its memory's namespace %s", q.Text, q.Scope, m.Namespace)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
