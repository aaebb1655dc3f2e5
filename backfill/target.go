package backfill

import (
	"context"
	"strings"
	"sync"
)

// The target is the plugin a run writes to or checks, and what it advertises.
// Ours has the backfill's extensions (batch, lookup, created_at, metadata); the
// platform's own plugin, which some operators run, has only the contract's five
// capabilities. The backfill works with both: it uses an extension when it is
// advertised and the contract's routes otherwise.

// Extensions the backfill uses when a plugin advertises them.
const (
	capBatch     = "batch"      // POST /v1/memories/batch: 500 rows a request
	capLookup    = "lookup"     // POST /v1/memories/lookup: read back by id
	capCreatedAt = "created_at" // a write keeps the memory's created_at
	capMetadata  = "metadata"   // a write keeps the memory's metadata (the v1 origin)
)

// A target is what the plugin advertised at the start of the run.
type target struct {
	batch, lookup, createdAt, metadata bool

	mu  sync.Mutex
	put map[string]bool // namespaces PUT this run (contract-only targets)
}

func newTarget(h Health) *target {
	return &target{batch: h.Has(capBatch), lookup: h.Has(capLookup), createdAt: h.Has(capCreatedAt),
		metadata: h.Has(capMetadata), put: map[string]bool{}}
}

// cannotKeep lists what a copy into this target loses, in a fixed order.
func (t *target) cannotKeep() []string {
	var lost []string
	if !t.createdAt {
		lost = append(lost, capCreatedAt)
	}
	if !t.metadata {
		lost = append(lost, capMetadata)
	}
	return lost
}

// contractOnly says whether the target has none of the write extensions: the
// platform's own plugin, which refuses (500) a commit to a namespace that was
// not PUT first.
func (t *target) contractOnly() bool { return !t.createdAt && !t.metadata }

// wire is what the target gets for w: the extension fields it does not
// advertise are left out (the contract would have it ignore them; a plugin that
// stored them blindly would hold what it cannot serve).
func (t *target) wire(w MemoryWrite) MemoryWrite {
	if !t.createdAt {
		w.CreatedAt = ""
	}
	if !t.metadata {
		w.Metadata = nil
	}
	return w
}

// ensureNamespace PUTs ns once per run on a contract-only target, as the
// platform's workspace server does before its commits. Our plugin creates a
// namespace on commit and is not sent the PUT, which would reset the
// namespace's expires_at and metadata.
func (t *target) ensureNamespace(ctx context.Context, c *Client, ns string) error {
	if !t.contractOnly() {
		return nil
	}
	t.mu.Lock()
	done := t.put[ns]
	t.mu.Unlock()
	if done {
		return nil
	}
	if err := c.PutNamespace(ctx, ns, namespaceKind(ns)); err != nil {
		return err
	}
	t.mu.Lock()
	t.put[ns] = true
	t.mu.Unlock()
	return nil
}

// namespaceKind is the contract's kind for a namespace name, from its prefix.
func namespaceKind(ns string) string {
	prefix, _, _ := strings.Cut(ns, ":")
	switch prefix {
	case "workspace", "team", "org":
		return prefix
	}
	return "custom"
}

// find returns what the plugin holds under the items' ids: by lookup when the
// target has it, else through the contract's search (findBySearch).
func (r *runner) find(ctx context.Context, items []item) (map[string]Memory, error) {
	if !r.target.lookup {
		return r.findBySearch(ctx, items)
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.w.ID
	}
	found, err := r.client.Lookup(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]Memory, len(found))
	for _, m := range found {
		byID[m.ID] = m
	}
	return byID, nil
}

// findBySearch finds items in their own namespaces with the contract's search
// only. One listing per namespace settles every item of a namespace holding
// fewer than MaxSearchLimit memories; in a larger one, each item not listed is
// searched for by its content (a full-text query every word of which the
// memory holds). A memory moved to another namespace is not found: search has
// no way to ask for an id anywhere.
func (r *runner) findBySearch(ctx context.Context, items []item) (map[string]Memory, error) {
	byNS := map[string][]item{}
	for _, it := range items {
		byNS[it.w.Namespace] = append(byNS[it.w.Namespace], it)
	}
	found := map[string]Memory{}
	for ns, its := range byNS {
		listed, err := r.client.Search(ctx, SearchRequest{Namespaces: []string{ns}, Limit: MaxSearchLimit})
		if err != nil {
			return nil, err
		}
		for _, m := range listed {
			found[m.ID] = m
		}
		if len(listed) < MaxSearchLimit {
			continue // the whole namespace was listed
		}
		for _, it := range its {
			if _, ok := found[it.w.ID]; ok {
				continue
			}
			hits, err := r.client.Search(ctx, SearchRequest{Namespaces: []string{ns}, Query: searchQuery(it.w.Content), Limit: MaxSearchLimit})
			if err != nil {
				return nil, err
			}
			for _, m := range hits {
				if m.ID == it.w.ID {
					found[m.ID] = m
				}
			}
		}
	}
	return found, nil
}

// Bounds of a query made from a memory's content: within what plugins accept
// (ours takes 8 KiB and ranks by the first 64 words).
const (
	maxFindWords = 32
	maxFindBytes = 1 << 10
)

// searchQuery is the start of content, whole words only: every word of it is
// in the memory, so a full-text search that requires them all still finds it.
func searchQuery(content string) string {
	words := strings.Fields(content)
	q := ""
	for i, w := range words {
		if i == maxFindWords || len(q)+1+len(w) > maxFindBytes {
			break
		}
		if q != "" {
			q += " "
		}
		q += w
	}
	return q // "" only for a first word over the bound: the search then lists
}
