package plugin

import (
	"bytes"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Recall reads up to about 80 candidate rows and answers with at most
// limit of them (10 from the workspace server). Scanning every column of
// every row into a memory was a sixth of the plugin's CPU per recall and
// most of its allocations (perf and pprof, make bench-plugin), so the rows'
// raw values are copied into one reused buffer, only what ranking needs is
// decoded (the distance, the full-text rank, pin, created_at; the id and
// the content are read in place), and the winners alone are decoded into
// memories, by scanMemory through pgx's own codecs: the same values as a
// scan of the row.

// The columns of a recall row: memoryColumns, then the distance and the
// full-text rank.
const (
	colID        = 0
	colContent   = 2
	colPin       = 7
	colCreatedAt = 9
	colDist      = 10
	colRank      = 11
	recallCols   = 12
)

// A span locates a raw value in recallRows.raw; n < 0 is SQL NULL.
type span struct{ off, n int32 }

// recallRows holds one recall's candidate rows; reused through rowBuffers.
type recallRows struct {
	raw    []byte
	fields []pgconnField
	cands  []candidate
}

// pgconnField is what decoding a column needs of its description.
type pgconnField struct {
	oid    uint32
	format int16
}

var rowBuffers = sync.Pool{New: func() any { return new(recallRows) }}

// maxPooledRows bounds the raw bytes a pooled buffer keeps: a recall of
// 100 memories of 256 KiB each reads megabytes, which the pool must not
// hold for the process's life.
const maxPooledRows = 256 << 10

// release returns buf to rowBuffers unless it grew past maxPooledRows.
func (buf *recallRows) release() {
	if cap(buf.raw) <= maxPooledRows {
		rowBuffers.Put(buf)
	}
}

// typeMaps decode the rows once the connection is back in the pool (a
// connection's own map is not safe for concurrent use, nor is this one):
// the builtin types of recall's columns decode the same in any map.
var typeMaps = sync.Pool{New: func() any { return pgtype.NewMap() }}

// A candidate is a memory of the vector list, the full-text list or both:
// its cosine distance to the query vector when it is in the former, its
// ts_rank_cd when it is in the latter.
type candidate struct {
	cols      [recallCols]span
	id        []byte // the id's raw value: ordered as the id's text (below)
	content   string // a view of the raw content, valid until the buffer is reused
	pin       bool
	createdAt time.Time
	dist      float64
	tr        float32
	inVec     bool
	inFTS     bool
	ranked    bool
	score     float64
}

// compareIDs orders two candidates' ids as strings.Compare orders their
// canonical text: a uuid's raw value is either that text (text format) or
// its 16 bytes (binary), whose order is its lower-case hex digits' order.
func compareIDs(a, b *candidate) int { return bytes.Compare(a.id, b.id) }

// readRecallRows reads every row of a recall's statement into buf.
func readRecallRows(rows pgx.Rows, buf *recallRows) error {
	defer rows.Close()
	fds := rows.FieldDescriptions()
	if len(fds) != recallCols {
		return fmt.Errorf("recall returned %d columns; want %d", len(fds), recallCols)
	}
	buf.fields = buf.fields[:0]
	for _, fd := range fds {
		buf.fields = append(buf.fields, pgconnField{fd.DataTypeOID, fd.Format})
	}
	buf.raw, buf.cands = buf.raw[:0], buf.cands[:0]
	for rows.Next() {
		var c candidate
		for i, v := range rows.RawValues() {
			if v == nil {
				c.cols[i] = span{int32(len(buf.raw)), -1}
				continue
			}
			c.cols[i] = span{int32(len(buf.raw)), int32(len(v))}
			buf.raw = append(buf.raw, v...)
		}
		buf.cands = append(buf.cands, c)
	}
	return rows.Err()
}

// value returns column i of c's row; nil for NULL.
func (buf *recallRows) value(c *candidate, i int) []byte {
	s := c.cols[i]
	if s.n < 0 {
		return nil
	}
	return buf.raw[s.off : s.off+s.n : s.off+s.n]
}

// decodeRanking decodes what fuse ranks by, with one scan plan per column
// as pgx's own Scan does.
func (buf *recallRows) decodeRanking(m *pgtype.Map) error {
	if len(buf.cands) == 0 {
		return nil
	}
	c0 := &buf.cands[0]
	plan := func(col int, target any) pgtype.ScanPlan {
		return m.PlanScan(buf.fields[col].oid, buf.fields[col].format, target)
	}
	pinPlan, createdPlan := plan(colPin, &c0.pin), plan(colCreatedAt, &c0.createdAt)
	distPlan, rankPlan := plan(colDist, &c0.dist), plan(colRank, &c0.tr)
	for i := range buf.cands {
		c := &buf.cands[i]
		c.id = buf.value(c, colID)
		if content := buf.value(c, colContent); len(content) > 0 {
			c.content = unsafe.String(&content[0], len(content))
		}
		if err := pinPlan.Scan(buf.value(c, colPin), &c.pin); err != nil {
			return fmt.Errorf("pin: %w", err)
		}
		if err := createdPlan.Scan(buf.value(c, colCreatedAt), &c.createdAt); err != nil {
			return fmt.Errorf("created_at: %w", err)
		}
		if v := buf.value(c, colDist); v != nil {
			c.inVec = true
			if err := distPlan.Scan(v, &c.dist); err != nil {
				return fmt.Errorf("distance: %w", err)
			}
		}
		if v := buf.value(c, colRank); v != nil {
			c.inFTS = true
			if err := rankPlan.Scan(v, &c.tr); err != nil {
				return fmt.Errorf("full-text rank: %w", err)
			}
		}
	}
	return nil
}

// memory decodes c's row as scanMemory scans a row of memoryColumns.
func (buf *recallRows) memory(m *pgtype.Map, c *candidate) (memory, error) {
	return scanMemory(rawRow{buf, m, c}, false)
}

// rawRow is a candidate's row as a pgx.Row.
type rawRow struct {
	buf *recallRows
	m   *pgtype.Map
	c   *candidate
}

func (r rawRow) Scan(dest ...any) error {
	for i, d := range dest {
		f := r.buf.fields[i]
		if err := r.m.Scan(f.oid, f.format, r.buf.value(r.c, i), d); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return nil
}
