package backfill

import (
	"context"
	"crypto/rand"
	_ "embed"
	"fmt"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// The v1 schema of docs/legacy-v1-tables.md, as the fixture in testdata.
//
//go:embed testdata/v1-memories.sql
var v1Schema string

// columns says which optional agent_memories columns a fixture database has.
type columns int

const (
	allColumns     columns = iota // namespace, embedding vector(1536), content_tsv
	noOptionalCols                // none of them
)

// A want is what the fixture expects the backfill to do with one row. The
// fixture works it out from how it built the tree, not with the code under test.
type want struct {
	namespace string // "" when skipped
	reason    Reason
	rules     []Rule
	content   string
	// What the plugin must hold for a copied row.
	createdAt *time.Time // created_at, else updated_at, else nil (the plugin stamps it)
	scope     string
	wsID      string
	v1ns      string // the v1 namespace tag; "" without the column
}

// A fixture is a v1 database with a workspace tree and its memories.
type fixture struct {
	url  string
	ws   map[string]string // workspace name → id
	rows map[string]want   // memory id → expectation
}

// counts are a fixture's expected summary.
type counts struct {
	scanned, copy, skipped int64
	namespaces             map[string]int64
	reasons                map[Reason]int64
	rules                  map[Rule]int64
}

func (f *fixture) counts() counts {
	c := counts{namespaces: map[string]int64{}, reasons: map[Reason]int64{}, rules: map[Rule]int64{}}
	for _, w := range f.rows {
		c.scanned++
		if w.reason != "" {
			c.skipped++
			c.reasons[w.reason]++
			continue
		}
		c.copy++
		c.namespaces[w.namespace]++
		for _, r := range w.rules {
			c.rules[r]++
		}
	}
	return c
}

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// newFixture creates a v1 database: the fixture's schema with or without the
// optional columns, this workspace tree, and bulk ordinary memories plus about
// thirty-five rows for every mapping case.
//
//	orgA ── teamA1..teamA4 ── three members each;  orgA ── nostatus (status NULL)
//	orgB ── gone (removed) ── under;  orgB ── goneLeaf (removed);  goneRoot (removed root)
//	deep0 ── deep1 ── … ── deep55            (deepN is N hops from its root)
//	cyc1 → cyc2 → cyc3 → cyc1;  into → cyc1;  self → self
//	dangling → a parent that is not in workspaces (its FK bypassed, as on old tenants)
func newFixture(t testing.TB, cols columns, bulk int) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{url: pgtest.New(t), ws: map[string]string{}, rows: map[string]want{}}
	conn := pgtest.Connect(t, f.url)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("fixture: %s: %v", sql, err)
		}
	}
	exec(v1Schema)
	if cols == allColumns {
		exec("CREATE EXTENSION vector")
		exec("ALTER TABLE agent_memories ADD COLUMN embedding vector(1536)")
		exec("ALTER TABLE agent_memories ADD COLUMN content_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED")
	} else {
		exec("ALTER TABLE agent_memories DROP COLUMN namespace")
	}
	// Old tenants lost foreign keys along the way: rows that break them exist.
	exec("SET session_replication_role = replica")

	parent := map[string]string{} // name → parent name
	addWS := func(name, parentName, status string) {
		id := newUUID()
		f.ws[name] = id
		parent[name] = parentName
		var pid, st any
		if parentName != "" {
			pid = f.ws[parentName]
		}
		if status != "" {
			st = status
		}
		exec("INSERT INTO workspaces (id, name, status, parent_id) VALUES ($1, $2, $3, $4)", id, name, st, pid)
	}
	addWS("orgA", "", "online")
	members := []string{"orgA"}
	for i := 1; i <= 4; i++ {
		team := fmt.Sprintf("teamA%d", i)
		addWS(team, "orgA", "online")
		members = append(members, team)
		for j := 1; j <= 3; j++ {
			m := fmt.Sprintf("%s-m%d", team, j)
			addWS(m, team, "online")
			members = append(members, m)
		}
	}
	addWS("nostatus", "orgA", "")
	exec("UPDATE workspaces SET status = NULL WHERE id = $1", f.ws["nostatus"])
	addWS("orgB", "", "online")
	addWS("gone", "orgB", "removed")
	addWS("under", "gone", "online")
	addWS("goneLeaf", "orgB", "removed")
	addWS("goneRoot", "", "removed")
	addWS("deep0", "", "online")
	for i := 1; i <= 55; i++ {
		addWS(fmt.Sprintf("deep%d", i), fmt.Sprintf("deep%d", i-1), "online")
	}
	for _, n := range []string{"cyc1", "cyc2", "cyc3", "self"} {
		addWS(n, "", "online")
	}
	for _, link := range [][2]string{{"cyc1", "cyc2"}, {"cyc2", "cyc3"}, {"cyc3", "cyc1"}, {"self", "self"}} {
		exec("UPDATE workspaces SET parent_id = $1 WHERE id = $2", f.ws[link[1]], f.ws[link[0]])
	}
	addWS("into", "cyc1", "online")
	f.ws["nowhere"] = newUUID() // referenced, never inserted
	addWS("dangling", "", "online")
	exec("UPDATE workspaces SET parent_id = $1 WHERE id = $2", f.ws["nowhere"], f.ws["dangling"])
	f.ws["ghost"] = newUUID() // a workspace_id with no workspace

	var copyRows [][]any
	base := time.Date(2025, 3, 1, 9, 0, 0, 123456000, time.UTC)
	add := func(wsName, scope, content string, created, updated *time.Time, w want) {
		id := newUUID()
		var wsID any
		if wsName != "" {
			wsID = f.ws[wsName]
		}
		w.content, w.scope, w.wsID = content, scope, f.ws[wsName]
		w.createdAt = created
		if created == nil {
			w.createdAt = updated
		}
		row := []any{id, wsID, content, scope, created, updated}
		if cols == allColumns {
			w.v1ns = []string{"general", "facts", "procedures"}[len(copyRows)%3]
			row = append(row, w.v1ns)
		}
		f.rows[id] = w
		copyRows = append(copyRows, row)
	}
	at := func(i int) *time.Time { ts := base.Add(time.Duration(i) * time.Second); return &ts }

	// The bulk: every member of orgA's tree, every scope.
	for i := range bulk {
		m := members[i%len(members)]
		scope := []string{"LOCAL", "TEAM", "GLOBAL"}[(i/len(members))%3]
		content := fmt.Sprintf("memory %d of %s: the build cache lives in /var/cache/%d", i, m, i)
		if i%97 == 0 {
			content += "\nGrüße aus 東京 ✓ — a second line"
		}
		var w want
		switch scope {
		case "LOCAL":
			w.namespace = "workspace:" + f.ws[m]
		case "TEAM":
			team := parent[m]
			if team == "" {
				team = m
			}
			w.namespace = "team:" + f.ws[team]
		case "GLOBAL":
			w.namespace = "org:" + f.ws["orgA"]
			if m != "orgA" {
				w.rules = []Rule{RuleGlobalOfNonRoot}
			}
		}
		add(m, scope, content, at(i), at(i+60), w)
	}

	// One or a few rows per mapping case.
	ns := func(prefix, name string, rules ...Rule) want {
		return want{namespace: prefix + ":" + f.ws[name], rules: rules}
	}
	skip := func(r Reason) want { return want{reason: r} }
	special := []struct {
		ws, scope string
		want      want
	}{
		{"nostatus", "LOCAL", ns("workspace", "nostatus")},
		{"orgB", "LOCAL", ns("workspace", "orgB")},
		{"orgB", "TEAM", ns("team", "orgB")},
		{"orgB", "GLOBAL", ns("org", "orgB")},
		{"under", "LOCAL", ns("workspace", "under")},
		{"under", "TEAM", ns("team", "gone")},
		{"under", "GLOBAL", ns("org", "orgB", RuleGlobalOfNonRoot)},
		{"gone", "LOCAL", skip(ReasonWorkspaceRemoved)},
		{"gone", "TEAM", skip(ReasonWorkspaceRemoved)},
		{"gone", "GLOBAL", skip(ReasonWorkspaceRemoved)},
		{"goneLeaf", "LOCAL", skip(ReasonWorkspaceRemoved)},
		{"goneRoot", "TEAM", skip(ReasonWorkspaceRemoved)},
		{"goneRoot", "GLOBAL", skip(ReasonWorkspaceRemoved)},
		{"deep0", "GLOBAL", ns("org", "deep0")},
		{"deep50", "GLOBAL", ns("org", "deep0", RuleGlobalOfNonRoot)},
		{"deep50", "TEAM", ns("team", "deep49")},
		{"deep51", "GLOBAL", skip(ReasonChainTooDeep)},
		{"deep55", "GLOBAL", skip(ReasonChainTooDeep)},
		{"deep51", "LOCAL", ns("workspace", "deep51", RuleChainNotNeeded)},
		{"deep55", "TEAM", ns("team", "deep54", RuleChainNotNeeded)},
		{"cyc2", "GLOBAL", skip(ReasonParentCycle)},
		{"into", "GLOBAL", skip(ReasonParentCycle)},
		{"self", "GLOBAL", skip(ReasonParentCycle)},
		{"cyc1", "LOCAL", ns("workspace", "cyc1", RuleChainNotNeeded)},
		{"into", "TEAM", ns("team", "cyc1", RuleChainNotNeeded)},
		{"self", "TEAM", ns("team", "self", RuleChainNotNeeded)},
		{"dangling", "GLOBAL", skip(ReasonAncestorMissing)},
		{"dangling", "TEAM", ns("team", "nowhere", RuleChainNotNeeded)},
		{"ghost", "LOCAL", skip(ReasonWorkspaceMissing)},
		{"ghost", "GLOBAL", skip(ReasonWorkspaceMissing)},
		{"", "LOCAL", skip(ReasonWorkspaceNull)},
		{"", "GLOBAL", skip(ReasonWorkspaceNull)},
	}
	for i, s := range special {
		add(s.ws, s.scope, fmt.Sprintf("special %d: %s memory of %s", i, s.scope, s.ws), at(-i), at(-i), s.want)
	}
	add("teamA1-m1", "LOCAL", " \n\t ", at(0), at(0), skip(ReasonContentBlank))
	updated := at(7)
	add("teamA1-m2", "LOCAL", "created_at lost, updated_at kept", nil, updated,
		want{namespace: "workspace:" + f.ws["teamA1-m2"], rules: []Rule{RuleCreatedAtFromUpdatedAt}})
	add("teamA1-m3", "LOCAL", "no timestamps at all", nil, nil,
		want{namespace: "workspace:" + f.ws["teamA1-m3"], rules: []Rule{RuleCreatedAtMissing}})

	names := []string{"id", "workspace_id", "content", "scope", "created_at", "updated_at"}
	if cols == allColumns {
		names = append(names, "namespace")
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"agent_memories"}, names, pgx.CopyFromRows(copyRows)); err != nil {
		t.Fatalf("fixture: copying %d memories: %v", len(copyRows), err)
	}
	if cols == allColumns {
		// Some tenants have v1 embeddings; the backfill must not trip over them.
		exec("UPDATE agent_memories SET embedding = array_fill(0.01::real, ARRAY[1536])::vector WHERE id IN (SELECT id FROM agent_memories ORDER BY id LIMIT 20)")
	}
	exec("ANALYZE")
	return f
}

// fixtureBulk is the bulk that makes the standard fixture 10,000 rows.
const fixtureBulk = 10000 - 35

// checksum fingerprints both v1 tables, every column of every row.
func checksum(t testing.TB, url string) string {
	t.Helper()
	var sum string
	err := pgtest.Connect(t, url).QueryRow(context.Background(), `SELECT
		(SELECT md5(coalesce(string_agg(m::text, '|' ORDER BY id), '')) FROM agent_memories m) ||
		(SELECT md5(coalesce(string_agg(w::text, '|' ORDER BY id), '')) FROM workspaces w)`).Scan(&sum)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// execSQL runs one statement in the database at url.
func execSQL(t testing.TB, url, sql string) {
	t.Helper()
	if _, err := pgtest.Connect(t, url).Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
