package backfill

import (
	"fmt"
	"testing"
)

func TestMap(t *testing.T) {
	// org ── team ── member;  chain d0 ── d1 ── … ── d52;  c1 → c2 → c1 (cycle),
	// into → c1;  dangling → (not a workspace);  org ── gone (removed) ── under
	ws := []Workspace{
		{ID: "org"}, {ID: "team", ParentID: "org"}, {ID: "member", ParentID: "team"},
		{ID: "c1", ParentID: "c2"}, {ID: "c2", ParentID: "c1"}, {ID: "into", ParentID: "c1"},
		{ID: "self", ParentID: "self"},
		{ID: "dangling", ParentID: "nowhere"},
		{ID: "gone", ParentID: "org", Removed: true}, {ID: "under", ParentID: "gone"},
		{ID: "d0"},
	}
	for i := 1; i <= MaxHops+2; i++ {
		ws = append(ws, Workspace{ID: fmt.Sprintf("d%d", i), ParentID: fmt.Sprintf("d%d", i-1)})
	}
	tree := NewTree(ws)
	tests := []struct {
		name  string
		ws    string
		scope string
		want  Mapping
	}{
		{"a LOCAL memory goes to its workspace", "member", "LOCAL", Mapping{Namespace: "workspace:member"}},
		{"a TEAM memory goes to its parent's team", "member", "TEAM", Mapping{Namespace: "team:team"}},
		{"a TEAM memory of a root goes to the root's own team", "org", "TEAM", Mapping{Namespace: "team:org"}},
		{"a GLOBAL memory of a root goes to its org", "org", "GLOBAL", Mapping{Namespace: "org:org"}},
		{"a GLOBAL memory of a non-root goes to the root's org, by rule", "member", "GLOBAL", Mapping{Namespace: "org:org", Rule: RuleGlobalOfNonRoot}},
		{"a GLOBAL memory exactly 50 hops from the root is mapped", "d50", "GLOBAL", Mapping{Namespace: "org:d0", Rule: RuleGlobalOfNonRoot}},
		{"a GLOBAL memory 51 hops from the root is reported as too deep", "d51", "GLOBAL", Mapping{Reason: ReasonChainTooDeep}},
		{"a LOCAL memory 51 hops deep needs no root and is mapped, by rule", "d51", "LOCAL", Mapping{Namespace: "workspace:d51", Rule: RuleChainNotNeeded}},
		{"a TEAM memory 52 hops deep goes to its parent's team, by rule", "d52", "TEAM", Mapping{Namespace: "team:d51", Rule: RuleChainNotNeeded}},
		{"a GLOBAL memory in a cycle is reported", "c1", "GLOBAL", Mapping{Reason: ReasonParentCycle}},
		{"a GLOBAL memory whose chain runs into a cycle is reported", "into", "GLOBAL", Mapping{Reason: ReasonParentCycle}},
		{"a GLOBAL memory of a workspace that is its own parent is reported", "self", "GLOBAL", Mapping{Reason: ReasonParentCycle}},
		{"a TEAM memory in a cycle goes to its parent's team, by rule", "c1", "TEAM", Mapping{Namespace: "team:c2", Rule: RuleChainNotNeeded}},
		{"a LOCAL memory in a cycle goes to its workspace, by rule", "into", "LOCAL", Mapping{Namespace: "workspace:into", Rule: RuleChainNotNeeded}},
		{"a GLOBAL memory under a dangling parent is reported", "dangling", "GLOBAL", Mapping{Reason: ReasonAncestorMissing}},
		{"a TEAM memory under a dangling parent keeps the parent's team, by rule", "dangling", "TEAM", Mapping{Namespace: "team:nowhere", Rule: RuleChainNotNeeded}},
		{"a memory of a removed workspace is reported whatever its scope", "gone", "LOCAL", Mapping{Reason: ReasonWorkspaceRemoved}},
		{"a GLOBAL memory of a removed workspace is reported", "gone", "GLOBAL", Mapping{Reason: ReasonWorkspaceRemoved}},
		{"a live workspace under a removed one still maps through it", "under", "TEAM", Mapping{Namespace: "team:gone"}},
		{"a GLOBAL memory of a live workspace under a removed one reaches the root", "under", "GLOBAL", Mapping{Namespace: "org:org", Rule: RuleGlobalOfNonRoot}},
		{"a memory of a workspace missing from workspaces is reported", "ghost", "LOCAL", Mapping{Reason: ReasonWorkspaceMissing}},
		{"a memory without a workspace is reported", "", "LOCAL", Mapping{Reason: ReasonWorkspaceNull}},
		{"a memory with an unknown scope is reported", "member", "PRIVATE", Mapping{Reason: ReasonScopeInvalid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tree.Map(Row{ID: "m", WorkspaceID: tt.ws, Scope: tt.scope, Content: "x"})
			if got != tt.want {
				t.Fatalf("Map(%s, %s) = %+v, want %+v", tt.ws, tt.scope, got, tt.want)
			}
		})
	}
	t.Run("a memory whose content is not UTF-8 is reported, not mangled into JSON", func(t *testing.T) {
		got := tree.Map(Row{ID: "m", WorkspaceID: "member", Scope: "LOCAL", Content: "caf\xe9"})
		if got.Reason != ReasonContentNotUTF8 {
			t.Fatalf("got %+v, want reason %s", got, ReasonContentNotUTF8)
		}
	})
	t.Run("a memory with blank content is reported before anything else", func(t *testing.T) {
		got := tree.Map(Row{ID: "m", WorkspaceID: "", Scope: "LOCAL", Content: " \n\t"})
		if got.Reason != ReasonContentBlank {
			t.Fatalf("got %+v, want reason %s", got, ReasonContentBlank)
		}
	})
}

func TestNewTreeCountsHopsFromTheRootOfAChainListedLeafFirst(t *testing.T) {
	// Leaf first, the walk from the leaf resolves the whole chain and every later
	// workspace finds its chain already resolved.
	const n = 2000
	ws := make([]Workspace, n)
	for i := range ws {
		ws[i] = Workspace{ID: fmt.Sprint(n - 1 - i)}
		if n-1-i > 0 {
			ws[i].ParentID = fmt.Sprint(n - 2 - i)
		}
	}
	tree := NewTree(ws)
	for _, id := range []string{"0", "1", "50", "1999"} {
		c := tree.chains[id]
		if c.root != "0" || fmt.Sprint(c.hops) != id || c.broken != "" {
			t.Fatalf("chain of %s = %+v, want root 0 at %s hops", id, c, id)
		}
	}
}
