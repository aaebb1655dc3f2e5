package backfill

import (
	"context"
	"errors"
	"fmt"
)

// errLimitReached ends the source scan once -limit rows are taken.
var errLimitReached = errors.New("limit reached")

// scan reads the run's rows in id order, page by page, and calls fn with each
// page's rows to copy (or list, or check), until the source ends or -limit
// rows are taken. fn is called from one goroutine, in order.
func (r *runner) scan(ctx context.Context, fn func([]item) error) error {
	err := r.src.Scan(ctx, r.cfg.BatchSize, r.scope, func(page []Row) error {
		items, err := r.take(ctx, page)
		if err != nil {
			return err
		}
		if len(items) > 0 {
			if err := fn(items); err != nil {
				return err
			}
		}
		if r.cfg.Limit > 0 && r.taken == r.cfg.Limit {
			r.rep.limitReached()
			return errLimitReached
		}
		return nil
	})
	if errors.Is(err, errLimitReached) {
		return nil
	}
	return err
}

// take maps a page of rows and returns the ones the run works on, reporting
// the skipped ones. Under -limit it stops at the limit (rows after it are not
// scanned: the next run reads them), and -apply passes over the rows the
// plugin already holds as they are, without counting them: so each -limit run
// copies rows the earlier runs did not, whatever order they ran in, and
// repeated runs end with every row copied.
func (r *runner) take(ctx context.Context, page []Row) ([]item, error) {
	type entry struct {
		row    Row
		reason Reason
		it     item
	}
	entries := make([]entry, len(page))
	var candidates []item
	for i, row := range page {
		m := r.tree.Map(row)
		entries[i] = entry{row: row, reason: m.Reason}
		if m.Reason == "" {
			entries[i].it = newItem(row, m)
			candidates = append(candidates, entries[i].it)
		}
	}
	var held map[string]Memory
	if r.cfg.Limit > 0 && r.cfg.Mode == Apply && len(candidates) > 0 {
		var err error
		if held, err = r.find(ctx, candidates); err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, fmt.Errorf("memory plugin stopped taking requests: %w", err)
		}
	}
	items := make([]item, 0, len(candidates))
	scanned := len(page)
	for i, e := range entries {
		if r.cfg.Limit > 0 && r.taken == r.cfg.Limit {
			scanned = i
			break
		}
		if e.reason != "" {
			r.rep.skip(e.row, e.reason)
			continue
		}
		if m, ok := held[e.it.w.ID]; ok && m.Namespace == e.it.w.Namespace && m.Content == e.it.w.Content {
			r.rep.unchanged.Add(1)
			continue
		}
		r.rep.rules(e.it.rules)
		items = append(items, e.it)
		r.taken++
	}
	r.rep.scan(scanned)
	return items, nil
}
