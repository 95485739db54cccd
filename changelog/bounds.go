package changelog

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/schema"
)

// ReadOptions bound one read. A zero field bounds nothing.
type ReadOptions struct {
	Limit int // changelog rows read, at most
	// MaxBytes bounds the sum of the changes' Size: the read stops before
	// the change that would pass it, but returns at least one change. With
	// Origin set it cuts only between merges, and returns at least one
	// merge, whole (see ReadForTx).
	MaxBytes int64
	// MaxRowBytes: a change whose Size is over it is returned with
	// TooLarge set and without values, and counts only its key toward
	// MaxBytes. Its values are never read whole but to learn that.
	MaxRowBytes int64
	// Origin, if set, leaves out the versions ApplyRemote wrote for it, as
	// ReadForTx does.
	Origin *change.SiteID
	// Whole names rows whose earlier change never travelled (a device held
	// it back), with that change's op: their next change must bring the
	// whole row. An update of such a row carries every column, and becomes
	// an insert when the held change was one.
	Whole map[RowRef]change.Op
}

// RowRef names a row by its table's name and its key's KeyBytes.
type RowRef struct {
	Table string
	Key   string // KeyBytes(key), as a string
}

// wholeRows applies ReadOptions.Whole to the coalesced changes.
func wholeRows(order []*pending, whole map[RowRef]change.Op) {
	for _, p := range order {
		held, ok := whole[RowRef{p.tbl.Name, p.keyBytes}]
		switch {
		case !ok || p.op != change.Update:
		case held == change.Insert:
			p.op, p.cols = change.Insert, nil
		default:
			p.whole = true
		}
	}
}

// What a change counts toward ReadOptions.MaxBytes besides its TEXT and
// BLOB bytes: about what the codec spends on a change's table, op and
// clock, and on a value's column index, tag and clock, at most. The bound
// is on the bytes of a batch, not its rows, so that one frame stays well
// under the codec's limits whatever its values.
const (
	ChangeOverhead = 32
	ValueOverhead  = 8
)

// ReadBounded is Read within o's bounds.
func (l *Log) ReadBounded(ctx context.Context, since change.Version, o ReadOptions) (*Batch, error) {
	conn, err := l.db.Connx(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// A deferred transaction: a snapshot for reading that never takes the write lock.
	if _, err := conn.ExecContext(ctx, `BEGIN`); err != nil {
		return nil, fmt.Errorf("begin read: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`) //nolint:errcheck // read-only
	return l.ReadBoundedTx(ctx, conn, since, o)
}

// ReadBoundedTx is ReadBounded within the caller's transaction q.
func (l *Log) ReadBoundedTx(ctx context.Context, q sqlx.QueryerContext, since change.Version, o ReadOptions) (*Batch, error) {
	return l.read(ctx, q, since, readSpec{ReadOptions: o, values: true})
}

// errOverBudget stops fill once a read passes its byte bounds.
var errOverBudget = errors.New("read over its byte bounds")

// budget counts a read's bytes while fill reads its values.
type budget struct {
	ReadOptions
	total  int64 // every change's key, and the values read so far
	filled int   // changes whose values were read
}

// take counts p, whose values fill just read, and stops the read when p is
// too large or when the values read so far pass MaxBytes.
func (g *budget) take(p *pending) error {
	if g == nil {
		return nil
	}
	values := p.size - p.baseSize()
	if g.MaxRowBytes > 0 && p.size > g.MaxRowBytes || g.MaxBytes > 0 && g.filled > 0 && g.total+values > g.MaxBytes {
		return errOverBudget
	}
	g.total += values
	g.filled++
	return nil
}

// fillBounded is fill within o's byte bounds. Rows of a few KiB, the
// common case, are read in one query per table, counted as they come;
// only a read that passes a bound is cut, which needs each row's size in
// the order of the changes, and so one query per row (see cut).
func (l *Log) fillBounded(ctx context.Context, q sqlx.QueryerContext, since, through change.Version, order []*pending, o ReadOptions) (change.Version, []*pending, error) {
	var g *budget
	if o.MaxBytes > 0 || o.MaxRowBytes > 0 {
		g = &budget{ReadOptions: o}
		for _, p := range order {
			g.total += p.baseSize()
		}
	}
	err := l.fill(ctx, q, since, through, order, g)
	if !errors.Is(err, errOverBudget) {
		return through, order, err
	}
	return l.cut(ctx, q, through, order, o)
}

// cut ends a read that passed its byte bounds. It keeps the changes, in
// the order of their first write, while their sizes fit MaxBytes, drops
// the values of those over MaxRowBytes, reads the values still missing
// row by row, and returns the version the read now ends at. The values
// fill already read are kept, so that no row is read twice whole.
//
// A kept change may carry writes logged after the new end (it coalesced
// them): its values are the row's current ones anyway, as every read's
// are, and the next read sends those writes again, which merging makes
// harmless.
func (l *Log) cut(ctx context.Context, q sqlx.QueryerContext, through change.Version, order []*pending, o ReadOptions) (change.Version, []*pending, error) {
	var total int64
	for i, p := range order {
		if err := l.measure(ctx, q, p); err != nil {
			return 0, nil, err
		}
		if i > 0 && o.MaxBytes > 0 && total+p.counted(o.MaxRowBytes) > o.MaxBytes {
			end, err := cutBefore(ctx, q, order[0], p, o.Origin != nil)
			if err != nil {
				return 0, nil, err
			}
			through, order = end, keptUpTo(order, end)
			break
		}
		total += p.counted(o.MaxRowBytes)
	}
	for _, p := range order {
		if err := l.complete(ctx, q, p, o.MaxRowBytes); err != nil {
			return 0, nil, err
		}
	}
	return through, order, nil
}

// cutBefore returns the version a read cut before change p ends at: the
// one before p's first write. A hub serving a device (merges) never cuts
// a merge: it ends before the merge p falls in, or, when that merge also
// holds the read's first change, at that merge's end, so that at least one
// merge is served whole.
func cutBefore(ctx context.Context, q sqlx.QueryerContext, first, p *pending, merges bool) (change.Version, error) {
	if !merges {
		return p.first - 1, nil
	}
	var m struct {
		First change.Version `db:"first"`
		Last  change.Version `db:"last"`
	}
	err := sqlx.GetContext(ctx, q, &m, `SELECT coalesce(max(first), 0) AS first, coalesce(max(last), 0) AS last
		FROM _sync_applied WHERE first = (SELECT max(first) FROM _sync_applied WHERE first <= ?)`, p.first)
	switch {
	case err != nil:
		return 0, fmt.Errorf("read applied ranges: %w", err)
	case m.Last < p.first: // not written by a merge
		return p.first - 1, nil
	case m.First <= first.first:
		return m.Last, nil
	}
	return m.First - 1, nil
}

// keptUpTo returns the changes whose first write is at most version end.
func keptUpTo(order []*pending, end change.Version) []*pending {
	for i, p := range order {
		if p.first > end {
			return order[:i]
		}
	}
	return order
}

// counted is what p counts toward MaxBytes: its key only when it is over
// maxRow, as its values do not travel.
func (p *pending) counted(maxRow int64) int64 {
	if maxRow > 0 && p.size > maxRow {
		return p.baseSize()
	}
	return p.size
}

// measure learns p's size, if fill did not read it, from the lengths
// SQLite keeps, without reading the values.
func (l *Log) measure(ctx context.Context, q sqlx.QueryerContext, p *pending) error {
	if p.sized {
		return nil
	}
	if p.op == change.Delete {
		p.sized, p.filled, p.size = true, true, p.baseSize()
		return nil
	}
	var lens []int64
	err := eachRow(ctx, q, p.tbl.sizeSQL, p.key, len(p.tbl.writable), func(row []any) error {
		lens = make([]int64, len(row))
		for i, v := range row {
			lens[i], _ = v.(int64)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read row sizes of %s: %w", p.tbl.Name, err)
	}
	if lens == nil {
		p.deleted()
		return nil
	}
	p.sized, p.size = true, p.baseSize()+p.carried(lens)
	return nil
}

// complete gives p, kept by cut, its values, or marks it too large.
func (l *Log) complete(ctx context.Context, q sqlx.QueryerContext, p *pending, maxRow int64) error {
	switch {
	case p.op == change.Delete:
		return nil
	case maxRow > 0 && p.size > maxRow:
		p.tooLarge, p.values = true, nil
		p.names = p.columnNames()
		return nil
	case p.filled:
		return nil
	}
	var row []any
	err := eachRow(ctx, q, p.tbl.rowSQL, p.key, len(p.tbl.writable), func(r []any) error {
		row = append([]any(nil), r...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read row of %s: %w", p.tbl.Name, err)
	}
	if row == nil {
		p.deleted()
		return nil
	}
	p.setValues(row)
	return nil
}

// deleted turns p into a delete: its row no longer exists.
func (p *pending) deleted() {
	p.op, p.cols, p.names, p.values = change.Delete, nil, nil, nil
	p.sized, p.filled, p.size = true, true, p.baseSize()
}

// carried sums, with their overhead, the lengths of the values p carries,
// lens being those of every writable column.
func (p *pending) carried(lens []int64) int64 {
	var n int64
	if p.op == change.Insert || p.tbl.wholeRow() || p.whole {
		for _, l := range lens {
			n += ValueOverhead + l
		}
		return n
	}
	for _, id := range p.cols {
		if i, ok := p.tbl.colIndex[id]; ok {
			n += ValueOverhead + lens[i]
		}
	}
	return n
}

// baseSize is what p counts without its values: ChangeOverhead and its key.
func (p *pending) baseSize() int64 {
	return ChangeOverhead + valuesSize(p.key)
}

// valuesSize is the TEXT and BLOB bytes of vs with ValueOverhead each.
func valuesSize(vs []any) int64 {
	n := int64(len(vs)) * ValueOverhead
	for _, v := range vs {
		switch v := v.(type) {
		case string:
			n += int64(len(v))
		case []byte:
			n += int64(len(v))
		}
	}
	return n
}

// keyLookups builds a table's queries of one row by key: its writable
// columns, and the TEXT and BLOB bytes of each. octet_length of a column
// reads the length SQLite keeps in the record, not the value.
func keyLookups(name string, keys []string, writable []schema.Column) (rowSQL, sizeSQL string) {
	var where, cols, sizes []string
	for _, k := range keys {
		where = append(where, k+" = ?")
	}
	for _, c := range writable {
		col := schema.Ident(c.Name)
		cols = append(cols, "+"+col)
		sizes = append(sizes, fmt.Sprintf("iif(typeof(%s) IN ('text', 'blob'), octet_length(%s), 0)", col, col))
	}
	from := fmt.Sprintf(" FROM %s WHERE %s", schema.Ident(name), strings.Join(where, " AND "))
	return "SELECT " + strings.Join(cols, ", ") + from, "SELECT " + strings.Join(sizes, ", ") + from
}
