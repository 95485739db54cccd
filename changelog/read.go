package changelog

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/schema"
)

// pending is one row's writes in the range being read, as they coalesce.
type pending struct {
	tbl         *table
	key         []any
	keyBytes    string // the key encoded by appendKey
	op          change.Op
	first, last change.Version
	at          float64
	cols        []int64 // column ids an update changed, without duplicates
	writes      []write // the writes that still count, in version order (Change.Writes)
	names       []string
	values      []any
	size        int64 // what the change counts toward ReadOptions.MaxBytes, once sized
	sized       bool  // size known
	filled      bool  // values read, or found deleted
	tooLarge    bool  // over ReadOptions.MaxRowBytes: values not read
	whole       bool  // an update that carries every column (ReadOptions.Whole)
}

// write is one write to a row: its column id (0: the insert or delete of
// the row), version and time.
type write struct {
	col     int64
	version change.Version
	at      float64
}

// rng is a range of versions (lo, hi].
type rng struct{ lo, hi change.Version }

// Read returns the local changes after version since, coalesced per row,
// reading at most limit changelog rows (limit <= 0: no limit). The whole read
// is one snapshot of the database. Batch.Through is the version to pass as
// since next time; it can be past the last change when replayed versions
// follow it.
func (l *Log) Read(ctx context.Context, since change.Version, limit int) (*Batch, error) {
	return l.ReadBounded(ctx, since, ReadOptions{Limit: limit})
}

// ReadTx is Read within the caller's transaction q.
func (l *Log) ReadTx(ctx context.Context, q sqlx.QueryerContext, since change.Version, limit int) (*Batch, error) {
	return l.read(ctx, q, since, readSpec{ReadOptions: ReadOptions{Limit: limit}, values: true})
}

// ReadForTx is ReadTx with all set, leaving out the versions ApplyRemote
// wrote for origin: a hub serving a device skips what that device pushed.
// Whatever the hub's merge decided against such a push was logged in
// another range, which the device gets.
func (l *Log) ReadForTx(ctx context.Context, q sqlx.QueryerContext, since change.Version, limit int, origin change.SiteID) (*Batch, error) {
	return l.read(ctx, q, since, readSpec{ReadOptions: ReadOptions{Limit: limit, Origin: &origin}, values: true})
}

// ReadOpsTx is ReadTx (local changes) without values: each change's op, key, changed
// columns and time, for a reader that does not ship them. Without values it
// cannot tell that a row inserted or updated in the range was deleted since.
func (l *Log) ReadOpsTx(ctx context.Context, q sqlx.QueryerContext, since change.Version, limit int) (*Batch, error) {
	return l.read(ctx, q, since, readSpec{ReadOptions: ReadOptions{Limit: limit}})
}

// ReadOpsUntilTx is ReadOpsTx of the versions (since, until]: the same
// range as a ReadTx that returned Batch.Through until, coalesced the same
// way; until 0 reads every version after since.
func (l *Log) ReadOpsUntilTx(ctx context.Context, q sqlx.QueryerContext, since, until change.Version) (*Batch, error) {
	if until != 0 && until <= since {
		return &Batch{Since: since, Through: since}, nil
	}
	return l.read(ctx, q, since, readSpec{until: until})
}

// readSpec is what one read reads: values or only ops, bounded by
// ReadOptions, up to version until if until > 0.
type readSpec struct {
	ReadOptions
	until  change.Version
	values bool
}

// read reads the changes after since. r.Origin selects the applied ranges
// left out: nil all of them (local changes only), else those written for
// that origin.
func (l *Log) read(ctx context.Context, q sqlx.QueryerContext, since change.Version, r readSpec) (*Batch, error) {
	if err := l.loadTables(ctx, q); err != nil {
		return nil, err
	}
	limit, skip := r.Limit, r.Origin
	gaps, through, err := readRanges(ctx, q, since, skip)
	if err != nil {
		return nil, err
	}
	newest := through
	if r.until > 0 && through > r.until {
		gaps, through = clampRanges(gaps, r.until), r.until
	}
	byKey := make(map[string]*pending, sizeHint(gaps, limit))
	var order []*pending
	for _, g := range gaps {
		n, last, err := l.scan(ctx, q, g, limit, !r.values, byKey, &order)
		if err != nil {
			return nil, err
		}
		if limit > 0 {
			if limit -= n; limit <= 0 {
				through = last
				if skip != nil {
					if through, err = l.finishMerge(ctx, q, through, byKey, &order); err != nil {
						return nil, err
					}
				}
				break
			}
		}
	}
	if len(r.Whole) > 0 {
		wholeRows(order, r.Whole)
	}
	if !r.values {
		for _, p := range order {
			p.names = p.columnNames()
		}
		return &Batch{Since: since, Through: through, Changes: withWrites(changes(order), order), More: through < newest}, nil
	}
	through, order, err = l.fillBounded(ctx, q, since, through, order, r.ReadOptions)
	if err != nil {
		return nil, err
	}
	return &Batch{Since: since, Through: through, Changes: changes(order), More: through < newest}, nil
}

// finishMerge reads on from through to the end of the merge it falls in,
// so that a hub never serves part of one merge: a device that pulled up to
// a version has then seen every change the hub merged up to it, which is
// how the hub tells concurrent writes apart (package replicator).
func (l *Log) finishMerge(ctx context.Context, q sqlx.QueryerContext, through change.Version, byKey map[string]*pending, order *[]*pending) (change.Version, error) {
	var end change.Version
	err := sqlx.GetContext(ctx, q, &end, `SELECT coalesce(max(last), 0) FROM _sync_applied
		WHERE first = (SELECT max(first) FROM _sync_applied WHERE first <= ?)`, through)
	if err != nil {
		return 0, fmt.Errorf("read applied ranges: %w", err)
	}
	if end <= through {
		return through, nil
	}
	if _, _, err := l.scan(ctx, q, rng{through, end}, 0, false, byKey, order); err != nil {
		return 0, err
	}
	return end, nil
}

// sizeHint guesses how many rows a read will coalesce into, so that the map
// does not grow by rehashing 100,000 entries: at most one per log row.
func sizeHint(gaps []rng, limit int) int {
	var n int64
	for _, g := range gaps {
		n += int64(g.hi - g.lo)
	}
	if limit > 0 {
		n = min(n, int64(limit))
	}
	return int(min(n, 1<<20))
}

// readRanges returns the version ranges after since to read, that is, the
// gaps between the applied ranges skip selects, and the newest version.
func readRanges(ctx context.Context, q sqlx.QueryerContext, since change.Version, skip *change.SiteID) ([]rng, change.Version, error) {
	through, err := lastVersion(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	if through <= since {
		return nil, through, nil
	}
	// The ranges after since, and the one since falls in: both seek on first,
	// where last > since would scan a table that grows by a row per merge.
	query := `SELECT first, last FROM _sync_applied
		WHERE (first > ?1 OR first = (SELECT max(first) FROM _sync_applied WHERE first <= ?1))`
	args := []any{since}
	if skip != nil {
		query += ` AND origin = ?2`
		args = append(args, skip[:])
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY first`, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("read applied ranges: %w", err)
	}
	defer rows.Close()
	var gaps []rng
	lo := since
	for rows.Next() {
		// Scanned as int64: database/sql converts into any other integer
		// type by formatting the value and parsing it back.
		var f, l int64
		if err := rows.Scan(&f, &l); err != nil {
			return nil, 0, err
		}
		first, last := change.Version(f), change.Version(l)
		if first-1 > lo {
			gaps = append(gaps, rng{lo, first - 1})
		}
		lo = max(lo, last)
	}
	if through > lo {
		gaps = append(gaps, rng{lo, through})
	}
	return gaps, through, rows.Err()
}

// clampRanges cuts gaps at version until.
func clampRanges(gaps []rng, until change.Version) []rng {
	out := gaps[:0]
	for _, g := range gaps {
		if g.lo >= until {
			break
		}
		g.hi = min(g.hi, until)
		out = append(out, g)
	}
	return out
}

// scan reads the changelog rows in g (at most limit, if limit > 0) and
// coalesces them into byKey. It returns how many rows it read and the last version.
// With writes, it keeps each row's writes for Change.Writes, which only a
// read without values returns.
func (l *Log) scan(ctx context.Context, q sqlx.QueryerContext, g rng, limit int, writes bool, byKey map[string]*pending, order *[]*pending) (int, change.Version, error) {
	// Read only as many key columns as the widest tracked key has.
	width := 1
	for _, t := range l.tables {
		width = max(width, len(t.Key))
	}
	query := `SELECT version, tbl, op, col, at, ` + strings.Join([]string{"k0", "k1", "k2", "k3"}[:width], ", ") + `
		FROM _sync_changelog WHERE version > ? AND version <= ? ORDER BY version`
	args := []any{g.lo, g.hi}
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	var (
		n       int
		version change.Version
		buf     []byte
	)
	err := eachRow(ctx, q, query, args, 5+width, func(row []any) error {
		n++
		version = change.Version(row[0].(int64))
		tbl := row[1].(int64)
		t := l.tables[tbl]
		if t == nil {
			return nil // the table was dropped or is no longer tracked
		}
		key := row[5 : 5+len(t.Key)]
		if hasNull(key) {
			return nil // a NULL key names no row (schema.Table.NullableKey)
		}
		buf = binary.AppendVarint(buf[:0], tbl)
		prefix := len(buf)
		buf = appendKey(buf, key)
		p := byKey[string(buf)] // no allocation: the compiler looks up without copying
		if p == nil {
			ks := string(buf)
			p = &pending{tbl: t, key: append([]any(nil), key...), keyBytes: ks[prefix:], first: version}
			byKey[ks] = p
			*order = append(*order, p)
		}
		col, _ := row[3].(int64)
		op, at := change.Op(row[2].(int64)), row[4].(float64)
		p.add(op, col, row[3] != nil, version, at)
		if writes {
			p.addWrite(op, col, row[3] != nil, version, at)
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read changelog: %w", err)
	}
	return n, version, nil
}

// add coalesces one more write into p.
func (p *pending) add(op change.Op, col int64, hasCol bool, version change.Version, at float64) {
	// The latest write time, not the last: a baseline row (see package
	// replicator) is logged after the app's writes with the time 0.
	p.last, p.at = version, max(p.at, at)
	switch {
	case p.op == 0:
		p.op = op
	case op == change.Delete:
		p.op, p.cols = change.Delete, nil
	case op == change.Insert || p.op == change.Delete:
		p.op, p.cols = change.Insert, nil
	}
	if p.op == change.Update && hasCol && !containsID(p.cols, col) {
		p.cols = append(p.cols, col)
	}
}

// addWrite keeps, of p's writes, the ones a clock must cover: the last
// insert or delete of the row, and after it the last update of each column.
// A baseline insert (time 0, logged after the app's writes it predates)
// goes first instead: the updates logged before it are newer.
func (p *pending) addWrite(op change.Op, col int64, hasCol bool, version change.Version, at float64) {
	w := write{version: version, at: at}
	switch {
	case op != change.Update && at == 0:
		p.writes = append([]write{w}, p.writes...)
		return
	case op != change.Update:
		p.writes = append(p.writes[:0], w)
		return
	case !hasCol:
		return
	}
	w.col = col
	for i := range p.writes {
		if p.writes[i].col == col {
			p.writes = append(p.writes[:i], p.writes[i+1:]...)
			break
		}
	}
	p.writes = append(p.writes, w)
}

func hasNull(vals []any) bool {
	for _, v := range vals {
		if v == nil {
			return true
		}
	}
	return false
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// fill reads the current values of the rows that were inserted or updated,
// one query per table, and turns those that no longer exist into deletes.
// g, if not nil, counts each row as it is read and stops the read with
// errOverBudget once the read's byte bounds are passed.
func (l *Log) fill(ctx context.Context, q sqlx.QueryerContext, since, through change.Version, order []*pending, g *budget) error {
	need := map[*table]map[string]*pending{}
	for _, p := range order {
		if p.op == change.Delete {
			continue
		}
		m := need[p.tbl]
		if m == nil {
			m = map[string]*pending{}
			need[p.tbl] = m
		}
		m[p.keyBytes] = p
	}
	for t, m := range need {
		if err := fillTable(ctx, q, t, since, through, m, g); err != nil {
			return err
		}
		for _, p := range m {
			p.deleted() // not found: deleted after the range
		}
	}
	return nil
}

// scanShare: when at least this share of a table's rows changed, fill reads
// the whole table rather than looking each key up; the lookup first sorts
// every logged key, which costs more than reading the rows in order.
const scanShare = 4

// scanMin is the fewest changed rows for which a whole-table read is considered.
const scanMin = 5000

func fillTable(ctx context.Context, q sqlx.QueryerContext, t *table, since, through change.Version, m map[string]*pending, g *budget) error {
	query, args := t.valueSQL, []any{t.id, since, through}
	if len(m) >= scanMin {
		var n int
		if err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM `+schema.Ident(t.Name)); err != nil {
			return fmt.Errorf("count rows of %s: %w", t.Name, err)
		}
		if len(m)*scanShare >= n {
			query, args = t.scanSQL, nil
		}
	}
	nk := len(t.Key)
	var buf []byte
	err := eachRow(ctx, q, query, args, nk+len(t.writable), func(row []any) error {
		buf = appendKey(buf[:0], row[:nk])
		p := m[string(buf)]
		if p == nil {
			return nil
		}
		delete(m, p.keyBytes)
		p.setValues(append([]any(nil), row[nk:]...))
		return g.take(p)
	})
	if err != nil {
		return fmt.Errorf("read rows of %s: %w", t.Name, err)
	}
	return nil
}

// wholeRow: the table's updates carry every column, as an insert does:
// under row-level last-writer-wins the later write's whole row wins.
func (t *table) wholeRow() bool { return t.policy == LWWRow }

// setValues keeps, from the row's writable values, those the change carries:
// all of them for an insert, the changed columns for an update.
func (p *pending) setValues(row []any) {
	w := p.tbl.writable
	if p.op == change.Insert || p.tbl.wholeRow() || p.whole {
		p.names = make([]string, len(w))
		for i, c := range w {
			p.names[i] = c.Name
		}
		p.values = row
		p.sized, p.filled, p.size = true, true, p.baseSize()+valuesSize(row)
		return
	}
	for _, id := range p.cols {
		i, ok := p.tbl.colIndex[id]
		if !ok {
			continue // a column dropped since it was written
		}
		p.names = append(p.names, w[i].Name)
		p.values = append(p.values, row[i])
	}
	p.sized, p.filled, p.size = true, true, p.baseSize()+valuesSize(p.values)
}

// columnNames names the columns a change carries, without reading values.
func (p *pending) columnNames() []string {
	w := p.tbl.writable
	switch {
	case p.op == change.Insert, p.op == change.Update && (p.tbl.wholeRow() || p.whole):
		names := make([]string, len(w))
		for i, c := range w {
			names[i] = c.Name
		}
		return names
	case p.op == change.Update:
		var names []string
		for _, id := range p.cols {
			if i, ok := p.tbl.colIndex[id]; ok {
				names = append(names, w[i].Name)
			}
		}
		return names
	}
	return nil
}

// withWrites fills each change's Writes from its row's.
func withWrites(cs []Change, order []*pending) []Change {
	n := 0
	for _, p := range order {
		n += len(p.writes)
	}
	all := make([]Write, 0, n) // one allocation for every change's writes
	for i, p := range order {
		ws := all[len(all) : len(all) : len(all)+len(p.writes)]
		for _, w := range p.writes {
			name := ""
			if w.col != 0 {
				j, ok := p.tbl.colIndex[w.col]
				if !ok {
					continue // a column no longer tracked
				}
				name = p.tbl.writable[j].Name
			}
			ws = append(ws, Write{Column: name, Version: w.version, At: JulianTime(w.at)})
		}
		cs[i].Writes = ws
		all = all[:len(all)+len(ws)]
	}
	return cs
}

// changes turns the coalesced rows into Changes. order is already sorted by
// each row's first write in the range: scan appends rows as it first meets them.
func changes(order []*pending) []Change {
	out := make([]Change, len(order))
	for i, p := range order {
		out[i] = Change{
			Version:  p.last,
			Table:    p.tbl.Name,
			Op:       p.op,
			Key:      p.key,
			Columns:  p.names,
			Values:   p.values,
			At:       JulianTime(p.at),
			Size:     p.size,
			TooLarge: p.tooLarge,
		}
	}
	return out
}
