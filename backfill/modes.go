package backfill

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// A runner carries out one run in its mode.
type runner struct {
	cfg    Config
	src    *Source
	tree   *Tree
	client *Client  // nil in a dry run: it never calls the plugin
	target *target  // what the plugin advertises; nil in a dry run
	scope  []string // the workspaces whose rows the run reads; nil: all
	rep    *reporter
	taken  int // rows taken for work so far, against -limit (scan's goroutine only)
}

// An item is a mapped row on its way to the plugin.
type item struct {
	w     MemoryWrite // Namespace set
	rules []Rule
}

func (r *runner) writePath() string {
	switch {
	case r.cfg.Mode != Apply:
		return ""
	case r.target.batch:
		return "batch"
	}
	return "single"
}

// newItem builds what the plugin gets for a row: its id, content and
// created_at kept, kind fact and source agent (v1 has neither), and the v1
// origin in metadata.
func newItem(row Row, m Mapping) item {
	it := item{w: MemoryWrite{
		Namespace: m.Namespace,
		ID:        row.ID,
		Content:   row.Content,
		Kind:      "fact",
		Source:    "agent",
		Metadata:  &Metadata{Source: "v1-backfill", Scope: row.Scope, WorkspaceID: row.WorkspaceID},
	}}
	if m.Rule != "" {
		it.rules = append(it.rules, m.Rule)
	}
	if row.Namespace != nil {
		it.w.Metadata.Namespace = *row.Namespace
	}
	switch {
	case row.CreatedAt != nil:
		it.w.CreatedAt = row.CreatedAt.UTC().Format(time.RFC3339Nano)
	case row.UpdatedAt != nil:
		it.w.CreatedAt = row.UpdatedAt.UTC().Format(time.RFC3339Nano)
		it.rules = append(it.rules, RuleCreatedAtFromUpdatedAt)
	default:
		it.rules = append(it.rules, RuleCreatedAtMissing)
	}
	return it
}

// dryRun maps every row and prints it; it writes nothing and calls no plugin.
func (r *runner) dryRun(ctx context.Context) error {
	return r.scan(ctx, func(items []item) error {
		for _, it := range items {
			r.rep.ok(it.w, it.rules, true)
		}
		return nil
	})
}

// pipeline streams the source page by page to up to -concurrency goroutines
// running handle on each page's mapped rows. The unbuffered hand-over keeps at
// most concurrency+1 pages in memory. handle returns an error only to stop the
// run; row failures it records itself.
func (r *runner) pipeline(ctx context.Context, handle func(context.Context, []item) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan []item)
	var wg sync.WaitGroup
	for range r.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for items := range work {
				if err := handle(ctx, items); err != nil {
					cancel(err)
				}
			}
		}()
	}
	scanErr := r.scan(ctx, func(items []item) error {
		select {
		case work <- items:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return scanErr
}

// write sends a page's rows to the plugin: one batch request when the plugin
// has the batch capability, one commit per row otherwise (the namespace PUT
// first where the plugin needs it).
func (r *runner) write(ctx context.Context, items []item) error {
	if r.target.batch {
		return r.writeBatch(ctx, items)
	}
	for _, it := range items {
		err := r.target.ensureNamespace(ctx, r.client, it.w.Namespace)
		if err == nil {
			err = r.client.Write(ctx, it.w.Namespace, r.target.wire(it.w))
		}
		if err != nil {
			if stop := r.failure(ctx, []item{it}, err); stop != nil {
				return stop
			}
			continue
		}
		r.rep.ok(it.w, it.rules, false)
	}
	return nil
}

// writeBatch writes items in one request. A batch the plugin finds too large
// (413: its body limit, unknown to us) is halved until it fits; a single row
// that does not fit fails alone.
func (r *runner) writeBatch(ctx context.Context, items []item) error {
	ws := make([]MemoryWrite, len(items))
	for i, it := range items {
		ws[i] = r.target.wire(it.w)
	}
	results, err := r.client.WriteBatch(ctx, ws)
	var pe *PluginError
	if errors.As(err, &pe) && pe.Status == http.StatusRequestEntityTooLarge && len(items) > 1 {
		half := len(items) / 2
		if err := r.writeBatch(ctx, items[:half]); err != nil {
			return err
		}
		return r.writeBatch(ctx, items[half:])
	}
	if err != nil {
		return r.failure(ctx, items, err)
	}
	for i, res := range results {
		it := items[i]
		switch {
		case res.Status == "written" && (res.ID == "" || res.ID == it.w.ID):
			r.rep.ok(it.w, it.rules, false)
		case res.Status == "written":
			r.rep.fail(FailedRow{ID: it.w.ID, Namespace: it.w.Namespace, Reason: "bad_answer",
				Detail: fmt.Sprintf("plugin reports id %s written for this row", res.ID)})
		default:
			code := res.Code
			if code == "" {
				code = "bad_answer"
			}
			r.rep.fail(FailedRow{ID: it.w.ID, Namespace: it.w.Namespace, Reason: code, Detail: res.Message})
		}
	}
	return nil
}

// check finds a page's rows in the plugin (by id, or through search) and
// compares id, namespace and content.
func (r *runner) check(ctx context.Context, items []item) error {
	byID, err := r.find(ctx, items)
	if err != nil {
		return r.failure(ctx, items, err)
	}
	for _, it := range items {
		m, ok := byID[it.w.ID]
		fail := FailedRow{ID: it.w.ID, Namespace: it.w.Namespace}
		switch {
		case !ok:
			fail.Reason = "missing"
			if !r.target.lookup {
				fail.Detail = "not found by search in its namespace"
			}
		case m.Namespace != it.w.Namespace:
			fail.Reason, fail.Detail = "namespace_mismatch", "plugin has it in "+m.Namespace
		case m.Content != it.w.Content:
			// Hashed only here, for the report: equal contents need no digest.
			want, got := sha256.Sum256([]byte(it.w.Content)), sha256.Sum256([]byte(m.Content))
			fail.Reason = "content_mismatch"
			fail.Detail = fmt.Sprintf("sha256 source %s plugin %s", hex.EncodeToString(want[:6]), hex.EncodeToString(got[:6]))
		default:
			r.rep.ok(it.w, nil, false)
			continue
		}
		r.rep.fail(fail)
	}
	return nil
}

// failure records items as failed by a plugin error. It returns an error, and
// so stops the run, when the plugin is still unavailable after the retries (the
// next rows would only fail the same way, each after minutes of retrying) or the
// run was interrupted (the rows are then not counted: they may or may not have
// been written, and the re-run settles them).
func (r *runner) failure(ctx context.Context, items []item, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	reason, detail, stop := "unavailable", err.Error(), true
	var pe *PluginError
	switch {
	case errors.As(err, &pe):
		// A refused token refuses every row alike: stop rather than list them all.
		reason, detail, stop = pe.Code, pe.Message, pe.transient() || pe.Status == http.StatusUnauthorized
		if reason == "" {
			reason = fmt.Sprintf("http_%d", pe.Status)
		}
	case errors.Is(err, errBadAnswer):
		reason, stop = "bad_answer", false
	}
	for _, it := range items {
		r.rep.fail(FailedRow{ID: it.w.ID, Namespace: it.w.Namespace, Reason: reason, Detail: detail})
	}
	if stop {
		return fmt.Errorf("memory plugin stopped taking requests: %w", err)
	}
	return nil
}
