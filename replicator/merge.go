package replicator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/schema"
	"github.com/jmoiron/sqlx"
)

var (
	// ErrSchemaMismatch: the batch was built for another schema.
	ErrSchemaMismatch = errors.New("schema fingerprint differs")
	// ErrUnknownTable: the batch names a table the receiver does not track.
	ErrUnknownTable = errors.New("unknown table")
	// ErrUnknownColumn: the batch names a column the receiver's table lacks.
	ErrUnknownColumn = errors.New("unknown column")
	// ErrClockSkew: a change is stamped too far in the future.
	ErrClockSkew = errors.New("clock too far in the future")
)

// DefaultMaxClockSkew is how far in the future a merged change may be stamped.
const DefaultMaxClockSkew = 5 * time.Minute

// target is a batch table resolved against the receiver's schema.
type target struct {
	changelog.Tracked
	cols []schema.Column // batch column index -> the receiver's column
	ids  []int64         // batch column index -> column id
	sql  map[string]string
}

// merge applies one batch inside one transaction.
type merge struct {
	ctx     context.Context
	tx      *sqlx.Tx
	s       *store
	b       *codec.Batch
	targets []*target
}

// resolve checks every table and column of b against the receiver's schema
// before anything is applied.
func resolve(b *codec.Batch, tracked map[string]changelog.Tracked) ([]*target, error) {
	out := make([]*target, len(b.Tables))
	for i, bt := range b.Tables {
		t, ok := tracked[bt.Name]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownTable, bt.Name)
		}
		tg := &target{Tracked: t, sql: map[string]string{}}
		for _, name := range bt.Columns {
			id, ok := t.ColumnIDs[name]
			col, found := column(t.Table, name)
			if !ok || !found {
				return nil, fmt.Errorf("%w %q in table %q", ErrUnknownColumn, name, bt.Name)
			}
			tg.cols, tg.ids = append(tg.cols, col), append(tg.ids, id)
		}
		out[i] = tg
	}
	return out, nil
}

func column(t schema.Table, name string) (schema.Column, bool) {
	for _, c := range t.Writable() {
		if c.Name == name {
			return c, true
		}
	}
	return schema.Column{}, false
}

// checkSkew refuses a batch with a clock further than maxSkew ahead of now.
func checkSkew(b *codec.Batch, now time.Time, maxSkew time.Duration) error {
	limit := uint64(now.Add(maxSkew).UnixMilli()) << 16
	check := func(c codec.Clock) error {
		if c.HLC > limit|0xffff {
			skew := HLCTime(c.HLC).Sub(now).Round(time.Millisecond)
			return fmt.Errorf("%w: site %x wrote a change stamped %s ahead of this node's clock (limit %s)",
				ErrClockSkew, b.Sites[c.Site], skew, maxSkew)
		}
		return nil
	}
	for _, c := range b.Changes {
		if err := check(c.Clock); err != nil {
			return err
		}
		for _, cc := range c.Clocks {
			if err := check(cc); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *merge) clock(c codec.Clock) Clock {
	cl := Clock{HLC: c.HLC, Site: changelog.SiteID(m.b.Sites[c.Site])}
	m.s.observe(cl.HLC)
	return cl
}

// apply merges every change of the batch.
func (m *merge) apply() error {
	for i, c := range m.b.Changes {
		if err := m.change(m.targets[c.Table], c); err != nil {
			return fmt.Errorf("change %d (%s %s): %w", i, c.Op, m.targets[c.Table].Table.Name, err)
		}
	}
	return nil
}

func (m *merge) change(t *target, c codec.Change) error {
	key := changelog.KeyBytes(c.Key)
	local, err := m.s.load(t.ID, key)
	if err != nil {
		return err
	}
	rc := m.clock(c.Clock)
	switch c.Op {
	case codec.OpDelete:
		return m.delete(t, c, key, local, rc)
	case codec.OpInsert:
		if local.row != nil && local.dead && !rc.Newer(*local.row) {
			return nil // deleted later than this insert
		}
	}
	exists, err := m.exists(t, c.Key)
	if err != nil {
		return err
	}
	switch {
	case c.Op == codec.OpInsert && !exists:
		return m.insert(t, c, key, local, rc)
	case !exists:
		return nil // an update does not bring a deleted row back
	}
	return m.update(t, c, key, local, rc)
}

func (m *merge) delete(t *target, c codec.Change, key []byte, local rowClocks, rc Clock) error {
	if local.row != nil && !rc.Newer(*local.row) {
		return nil
	}
	if _, err := m.tx.ExecContext(m.ctx, t.statement("delete", nil), c.Key...); err != nil {
		return err
	}
	if err := m.s.setRow(t.ID, key, rc, true); err != nil {
		return err
	}
	if len(local.cols) == 0 {
		return nil
	}
	return m.s.dropCols(t.ID, key)
}

// insert writes a row this node does not have, with every value the change carries.
func (m *merge) insert(t *target, c codec.Change, key []byte, local rowClocks, rc Clock) error {
	args := c.Values
	if t.Table.KeyKind == schema.KeyRowid {
		args = append([]any{c.Key[0]}, c.Values...)
	}
	if _, err := m.tx.ExecContext(m.ctx, t.statement("insert", c.Columns), args...); err != nil {
		return err
	}
	if err := m.s.setRow(t.ID, key, rc, false); err != nil {
		return err
	}
	if len(local.cols) > 0 {
		if err := m.s.dropCols(t.ID, key); err != nil {
			return err
		}
	}
	for i, ci := range c.Columns {
		if cc := m.clock(c.Clocks[i]); cc != rc {
			if err := m.s.setCol(t.ID, key, t.ids[ci], cc); err != nil {
				return err
			}
		}
	}
	return nil
}

// update writes the columns whose clocks are newer than this node's, and
// makes an insert's clock the row's clock when it is newer.
func (m *merge) update(t *target, c codec.Change, key []byte, local rowClocks, rc Clock) error {
	var won []int
	var args []any
	for i, ci := range c.Columns {
		cc := m.clock(c.Clocks[i])
		if lc, ok := local.column(t.ids[ci]); ok && !cc.Newer(lc) {
			continue
		}
		won = append(won, ci)
		args = append(args, c.Values[i])
		if err := m.s.setCol(t.ID, key, t.ids[ci], cc); err != nil {
			return err
		}
	}
	if c.Op == codec.OpInsert && (local.row == nil || rc.Newer(*local.row)) {
		if err := m.s.setRow(t.ID, key, rc, false); err != nil {
			return err
		}
	}
	if len(won) == 0 {
		return nil
	}
	args = append(args, c.Key...)
	_, err := m.tx.ExecContext(m.ctx, t.statement("update", won), args...)
	return err
}

func (m *merge) exists(t *target, key []any) (bool, error) {
	var n int
	err := sqlx.GetContext(m.ctx, m.tx, &n, t.statement("exists", nil), key...)
	return n > 0, err
}

// statement returns the SQL of one kind of write to t, for the given batch
// columns, built once from the receiver's own names.
func (t *target) statement(kind string, cols []int) string {
	cacheKey := fmt.Sprint(kind, cols)
	if q, ok := t.sql[cacheKey]; ok {
		return q
	}
	tbl := schema.Ident(t.Table.Name)
	where := keyWhere(t.Table)
	var q string
	switch kind {
	case "exists":
		q = fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s`, tbl, where)
	case "delete":
		q = fmt.Sprintf(`DELETE FROM %s WHERE %s`, tbl, where)
	case "insert":
		names := make([]string, len(cols))
		for i, ci := range cols {
			names[i] = schema.Ident(t.cols[ci].Name)
		}
		q = fmt.Sprintf(`INSERT INTO %s (%s) VALUES (%s)`, tbl, strings.Join(names, ", "),
			strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", "))
		if t.Table.KeyKind == schema.KeyRowid {
			// The rowid is the key but not a column: insert it by its name.
			q = fmt.Sprintf(`INSERT INTO %s (%s, %s) VALUES (%s)`, tbl, schema.Ident(t.Table.Key[0]), strings.Join(names, ", "),
				strings.TrimSuffix(strings.Repeat("?, ", len(cols)+1), ", "))
		}
	case "update":
		sets := make([]string, len(cols))
		for i, ci := range cols {
			sets[i] = schema.Ident(t.cols[ci].Name) + " = ?"
		}
		q = fmt.Sprintf(`UPDATE %s SET %s WHERE %s`, tbl, strings.Join(sets, ", "), where)
	}
	t.sql[cacheKey] = q
	return q
}

func keyWhere(t schema.Table) string {
	parts := make([]string, len(t.Key))
	for i, k := range t.Key {
		parts[i] = schema.Ident(k) + " IS ?" // IS: SQLite allows NULL in a non-integer primary key
	}
	return strings.Join(parts, " AND ")
}
