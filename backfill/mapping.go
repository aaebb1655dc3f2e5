package backfill

import (
	"unicode"
	"unicode/utf8"
)

// The v1 → v2 namespace mapping. The rules are the platform's own resolution
// (docs/legacy-v1-tables.md, "Namespace resolution"); what those three rules
// leave open — rows they cannot resolve — is decided here, one reason or rule
// per case, and documented in docs/memory-backfill.md, "Mapping rules".

// MaxHops is how many parent_id links the chain from a workspace to its root may
// have: the platform's resolution gives up after 50.
const MaxHops = 50

// A Reason says why a source row is skipped and reported instead of copied.
type Reason string

// Reasons, checked in this order; a row gets the first one that applies.
const (
	ReasonScopeInvalid     Reason = "scope_invalid"     // scope is not LOCAL, TEAM or GLOBAL
	ReasonContentBlank     Reason = "content_blank"     // the plugin refuses blank content
	ReasonContentNotUTF8   Reason = "content_not_utf8"  // a SQL_ASCII database's bytes: JSON would alter them
	ReasonWorkspaceNull    Reason = "workspace_null"    // workspace_id is NULL
	ReasonWorkspaceMissing Reason = "workspace_missing" // workspace_id is not in workspaces
	ReasonWorkspaceRemoved Reason = "workspace_removed" // the row's own workspace has status 'removed'
	// The next three only concern GLOBAL rows: the org namespace needs the root.
	ReasonParentCycle     Reason = "parent_cycle"     // the chain runs into a parent_id cycle
	ReasonAncestorMissing Reason = "ancestor_missing" // the chain reaches a parent_id not in workspaces
	ReasonChainTooDeep    Reason = "chain_too_deep"   // the root is more than MaxHops links away
)

// A Rule names a documented decision that maps a row the platform's three
// resolution rules do not settle on their own. Rows mapped by a rule are copied and counted per rule.
type Rule string

// Rules.
const (
	// RuleGlobalOfNonRoot: a GLOBAL row of a non-root workspace goes to
	// org:<root of its chain>, as the platform resolves it.
	RuleGlobalOfNonRoot Rule = "global_of_non_root"
	// RuleChainNotNeeded: a LOCAL or TEAM row of a workspace whose chain is broken
	// (cycle, missing ancestor, too deep) is still mapped: its namespace needs only
	// the workspace (LOCAL) or its parent_id (TEAM), never the root.
	RuleChainNotNeeded Rule = "broken_chain_not_needed"
	// RuleCreatedAtFromUpdatedAt: created_at is NULL; updated_at is sent instead,
	// so a re-run writes the same timestamp. (Counted by the record builder.)
	RuleCreatedAtFromUpdatedAt Rule = "created_at_from_updated_at"
	// RuleCreatedAtMissing: created_at and updated_at are both NULL; created_at
	// is left out and the plugin stamps the write. (Counted by the record builder.)
	RuleCreatedAtMissing Rule = "created_at_missing"
)

// A Workspace is one row of the v1 workspaces table, as far as mapping needs it.
type Workspace struct {
	ID       string
	ParentID string // "" for a root
	Removed  bool   // status = 'removed'
}

// A Tree is the workspace tree with every workspace's chain to its root resolved
// once, so mapping a memory costs two map lookups.
type Tree struct {
	nodes  map[string]Workspace
	chains map[string]chain
}

// chain is a workspace's way to its root: the root and the number of parent_id
// links to it, or why there is none.
type chain struct {
	root   string
	hops   int
	broken Reason
}

// NewTree resolves the chain of every workspace. Cycles and dangling parents
// are recorded, not fatal: only the rows that need the root are affected.
func NewTree(workspaces []Workspace) *Tree {
	t := &Tree{nodes: make(map[string]Workspace, len(workspaces)), chains: make(map[string]chain, len(workspaces))}
	for _, w := range workspaces {
		t.nodes[w.ID] = w
	}
	for _, w := range workspaces {
		t.resolve(w.ID)
	}
	return t
}

// resolve walks up from id until a resolved workspace, a root, a dangling
// parent or a workspace already on the walk (a cycle), then records the result
// for every workspace on the walk. Each workspace is walked once, so a tree of
// n workspaces costs O(n) however deep its chains are.
func (t *Tree) resolve(id string) {
	var path []string
	onPath := make(map[string]bool)
	var base chain // the chain of the workspace above path's last element
	for cur := id; ; {
		if c, ok := t.chains[cur]; ok {
			base = c
			break
		}
		n, ok := t.nodes[cur]
		if !ok {
			base = chain{broken: ReasonAncestorMissing}
			break
		}
		if onPath[cur] {
			base = chain{broken: ReasonParentCycle}
			break
		}
		onPath[cur] = true
		path = append(path, cur)
		if n.ParentID == "" {
			base = chain{root: cur, hops: -1} // the root itself gets hops 0 below
			break
		}
		cur = n.ParentID
	}
	for i := len(path) - 1; i >= 0; i-- {
		if base.broken == "" {
			base.hops++
		}
		t.chains[path[i]] = base
	}
}

// A Mapping is where one source row goes: a namespace (and the rule that put it
// there, if any), or the reason it is skipped.
type Mapping struct {
	Namespace string
	Rule      Rule
	Reason    Reason
}

// Map resolves a row's target namespace.
func (t *Tree) Map(r Row) Mapping {
	switch r.Scope {
	case "LOCAL", "TEAM", "GLOBAL":
	default:
		return Mapping{Reason: ReasonScopeInvalid}
	}
	if isBlank(r.Content) {
		return Mapping{Reason: ReasonContentBlank}
	}
	if !utf8.ValidString(r.Content) {
		return Mapping{Reason: ReasonContentNotUTF8}
	}
	if r.WorkspaceID == "" {
		return Mapping{Reason: ReasonWorkspaceNull}
	}
	w, ok := t.nodes[r.WorkspaceID]
	if !ok {
		return Mapping{Reason: ReasonWorkspaceMissing}
	}
	if w.Removed {
		return Mapping{Reason: ReasonWorkspaceRemoved}
	}
	c := t.chains[w.ID]
	if c.broken == "" && c.hops > MaxHops {
		c.broken = ReasonChainTooDeep
	}
	var m Mapping
	switch r.Scope {
	case "LOCAL":
		m.Namespace = "workspace:" + w.ID
	case "TEAM":
		team := w.ParentID
		if team == "" {
			team = w.ID
		}
		m.Namespace = "team:" + team
	case "GLOBAL":
		if c.broken != "" {
			return Mapping{Reason: c.broken}
		}
		m.Namespace = "org:" + c.root
		if c.hops > 0 {
			m.Rule = RuleGlobalOfNonRoot
		}
	}
	if c.broken != "" {
		m.Rule = RuleChainNotNeeded
	}
	return m
}

// isBlank reports whether s has nothing but white space, as the plugin judges
// content: such a row would only come back as a 400.
func isBlank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}
