package replicator

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/mattn/go-sqlite3"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/conflicts"
	"github.com/deltasync/deltasync/replicator/rules"
	"github.com/deltasync/deltasync/schema"
)

// ErrUnpushedCollision: a row the hub serves would take a UNIQUE value that
// a row this device wrote, and has not pushed yet, holds. The hub decides
// between the two once the write is pushed (the later one in its order
// loses); the device pushes, then pulls again. It is not a refusal: the
// same sync, after a push, succeeds.
var ErrUnpushedCollision = errors.New("a row the hub serves collides on a UNIQUE column with a write of this device not pushed yet")

// deferral is a change a UNIQUE constraint refused, to be tried again once
// the rest of its batch is merged.
type deferral struct {
	t    *target
	c    codec.Change
	cols []string // the columns of the constraint, when SQLite names them
	err  error    // the refusal, explained (ErrUnique)
}

// applyAll merges the batch. It first merges it as fast as it can; if a
// UNIQUE constraint refuses a change, it undoes that and merges the batch
// again carefully: each change in a savepoint of its own, the refused ones
// deferred and settled once the rest is merged (settle). A batch without
// collisions costs one savepoint more than it did.
func (m *merge) applyAll() error {
	if _, err := m.tx.ExecContext(m.ctx, `SAVEPOINT deltasync_merge`); err != nil {
		return err
	}
	err := m.apply()
	if errors.Is(err, ErrUnique) {
		if _, err := m.tx.ExecContext(m.ctx, `ROLLBACK TO deltasync_merge`); err != nil {
			return err
		}
		m.restart()
		err = m.apply()
	}
	if err != nil {
		return err
	}
	_, err = m.tx.ExecContext(m.ctx, `RELEASE deltasync_merge`)
	return err
}

// restart forgets what the undone merge left in memory: the clocks and
// site numbers it read or wrote may have been rolled back.
func (m *merge) restart() {
	m.careful = true
	m.events, m.deferred, m.clocked = nil, nil, nil
	m.s.forgetAll()
}

// one merges one change: at once, or carefully, deferring it if a UNIQUE
// constraint refuses it.
func (m *merge) one(t *target, c codec.Change) error {
	if !m.careful {
		return m.change(t, c)
	}
	d, collided, err := m.try(t, c)
	if collided {
		m.deferred = append(m.deferred, d)
	}
	return err
}

// try merges c in a savepoint of its own. If a UNIQUE constraint refuses
// it, try undoes it and reports the collision.
func (m *merge) try(t *target, c codec.Change) (deferral, bool, error) {
	d := deferral{t: t, c: c}
	// Number the sites before the savepoint: a rollback to it would undo
	// a new site's row, but not the store's memory of it.
	if err := m.numberSites(c); err != nil {
		return d, false, err
	}
	if _, err := m.tx.ExecContext(m.ctx, `SAVEPOINT deltasync_change`); err != nil {
		return d, false, err
	}
	events := len(m.events)
	err := m.changeRow(t, c)
	if cols, ok := uniqueViolation(err); ok {
		if _, err := m.tx.ExecContext(m.ctx, `ROLLBACK TO deltasync_change; RELEASE deltasync_change`); err != nil {
			return d, false, err
		}
		m.events = m.events[:events]
		m.s.forget(t.ID, changelog.KeyBytes(c.Key))
		d.cols, d.err = cols, writeError(t, c, err)
		return d, true, nil
	}
	if err != nil {
		return d, false, writeError(t, c, err)
	}
	_, err = m.tx.ExecContext(m.ctx, `RELEASE deltasync_change`)
	return d, false, err
}

func (m *merge) numberSites(c codec.Change) error {
	if _, err := m.s.siteNumber(m.b.Sites[c.Clock.Site]); err != nil {
		return err
	}
	for _, cc := range c.Clocks {
		if _, err := m.s.siteNumber(m.b.Sites[cc.Site]); err != nil {
			return err
		}
	}
	return nil
}

// uniqueViolation reports whether err is SQLite refusing a write on a
// UNIQUE constraint, and the constraint's columns if SQLite names them
// ("UNIQUE constraint failed: tbl.a, tbl.b"; an index on expressions is
// named by its index instead).
func uniqueViolation(err error) ([]string, bool) {
	var se sqlite3.Error
	if !errors.As(err, &se) || se.ExtendedCode != sqlite3.ErrConstraintUnique {
		return nil, false
	}
	msg := se.Error()
	list := msg[strings.LastIndex(msg, ": ")+2:]
	if strings.HasPrefix(list, "index ") {
		return nil, true
	}
	var cols []string
	for _, tc := range strings.Split(list, ", ") {
		cols = append(cols, tc[strings.IndexByte(tc, '.')+1:])
	}
	return cols, true
}

// settle merges the changes a UNIQUE constraint deferred. First again, as
// long as that merges some: a change that took a value another change of
// the batch frees (a device moved a value from one row to another). Then
// with the deferred rows' colliding values moved aside, which merges a
// swap (one device exchanged two rows' values through a temporary one, in
// one transaction, and the batch carries only the end state). What still
// collides is a real collision between two writers, and loses (lose).
func (m *merge) settle() error {
	if len(m.deferred) == 0 {
		return nil
	}
	rest, err := m.retry(m.deferred)
	if err != nil || len(rest) == 0 {
		return err
	}
	losers, err := m.breakCycles(rest)
	if err != nil {
		return err
	}
	for _, d := range losers {
		if err := m.lose(d); err != nil {
			return err
		}
	}
	return nil
}

// retry merges the deferred changes again until a pass merges none of
// them, and returns those that still collide.
func (m *merge) retry(ds []deferral) ([]deferral, error) {
	for {
		var left []deferral
		for _, d := range ds {
			again, collided, err := m.try(d.t, d.c)
			if err != nil {
				return nil, err
			}
			if collided {
				left = append(left, again)
			}
		}
		if len(left) == len(ds) {
			return left, nil
		}
		ds = left
	}
}

// breakCycles moves the colliding values of the deferred rows aside, then
// merges the deferred changes again. If some still collide, it undoes all
// of it, counts those as losers, and tries again without them, until the
// rest merges. It returns the losers.
func (m *merge) breakCycles(rest []deferral) ([]deferral, error) {
	var losers []deferral
	for len(rest) > 0 {
		for _, d := range rest {
			if err := m.numberSites(d.c); err != nil {
				return nil, err
			}
		}
		if _, err := m.tx.ExecContext(m.ctx, `SAVEPOINT deltasync_swap`); err != nil {
			return nil, err
		}
		events := len(m.events)
		for _, d := range rest {
			if err := m.moveAside(d); err != nil {
				return nil, err
			}
		}
		left, err := m.retry(rest)
		if err != nil {
			return nil, err
		}
		if len(left) == 0 {
			_, err := m.tx.ExecContext(m.ctx, `RELEASE deltasync_swap`)
			return losers, err
		}
		if _, err := m.tx.ExecContext(m.ctx, `ROLLBACK TO deltasync_swap; RELEASE deltasync_swap`); err != nil {
			return nil, err
		}
		m.events = m.events[:events]
		m.s.forgetAll()
		losers = append(losers, left...)
		rest = slices.DeleteFunc(rest, func(d deferral) bool {
			return slices.ContainsFunc(left, func(l deferral) bool { return l.t == d.t && slices.Equal(l.c.Key, d.c.Key) })
		})
	}
	return losers, nil
}

// moveAside gives the columns of d's constraint that d's change writes a
// value no other row holds (NULL where the column allows it), so that the
// row whose value d's row takes can take d's row's value. It does nothing
// to a row this node does not have, and leaves a row whose constraint
// (a CHECK, a STRICT type) refuses the value as it was.
func (m *merge) moveAside(d deferral) error {
	v, err := m.decide(d.t, d.c, changelog.KeyBytes(d.c.Key))
	if err != nil {
		return err
	}
	written := map[string]bool{}
	switch v.Write {
	case rules.WriteRow:
		for _, ci := range d.c.Columns {
			written[d.t.cols[ci].Name] = true
		}
	case rules.WriteColumns:
		for _, i := range v.Cols {
			written[d.t.cols[d.c.Columns[i]].Name] = true
		}
	}
	var sets []string
	var args []any
	for _, name := range d.cols {
		col, ok := column(d.t.Table, name)
		if ok && written[name] && col.KeyIndex == 0 {
			sets, args = append(sets, schema.Ident(name)+" = ?"), append(args, placeholder(col))
		}
	}
	if len(sets) == 0 {
		return nil
	}
	q := fmt.Sprintf(`UPDATE %s SET %s WHERE %s`, schema.Ident(d.t.Table.Name), strings.Join(sets, ", "), keyWhere(d.t.Table))
	if _, err := m.tx.ExecContext(m.ctx, `SAVEPOINT deltasync_aside`); err != nil {
		return err
	}
	if _, err := m.tx.ExecContext(m.ctx, q, append(args, d.c.Key...)...); err != nil {
		var se sqlite3.Error
		if !errors.As(err, &se) || se.Code != sqlite3.ErrConstraint {
			return err
		}
		if _, err := m.tx.ExecContext(m.ctx, `ROLLBACK TO deltasync_aside`); err != nil {
			return err
		}
	}
	_, err = m.tx.ExecContext(m.ctx, `RELEASE deltasync_aside`)
	return err
}

// placeholder is a value of c's type that no row holds: NULL where c
// allows it, else a random one far from what apps store.
func placeholder(c schema.Column) any {
	if !c.NotNull {
		return nil
	}
	r, _ := rand.Int(rand.Reader, big.NewInt(1<<52)) // crypto/rand does not fail
	n := r.Int64()
	switch c.Affinity() {
	case schema.AffinityInteger, schema.AffinityNumeric:
		return -(int64(1) << 62) - n
	case schema.AffinityReal:
		return -1e300 - float64(n)*1e284
	case schema.AffinityBlob:
		return []byte(fmt.Sprintf("deltasync: moved aside %x", n))
	}
	return fmt.Sprintf("deltasync: moved aside %x", n)
}

// lose settles a real collision. The hub's row came first in the hub's
// order, so the change loses: on the hub, it is recorded (loseOnHub). A
// device's pull carries rows the hub holds, so what collides with them
// here is this device's own write, not pushed yet, which the hub must
// order first: the pull fails with ErrUnpushedCollision, and succeeds once
// that write is pushed. A collision with a row the hub holds too can only
// come from a pull that cuts between two of the hub's merges; it is
// refused with ErrUnique, as it cannot be merged.
func (m *merge) lose(d deferral) error {
	if m.role != rules.RoleDevice {
		return m.loseOnHub(d.t, d.c)
	}
	if m.pending.hasTable(d.t.ID) {
		return fmt.Errorf("%w: row %s of %q: %v", ErrUnpushedCollision, change.KeyLiteral(d.c.Key), d.t.Table.Name, d.err)
	}
	return d.err
}

// loseOnHub records a change that lost a UNIQUE collision on the hub, with
// every value it carried against what the hub holds of its row, and
// applies nothing of it. The device that wrote it gets a loss notice of
// kind unique carrying the hub's side (Notices, addNotices), which it
// takes in place of its write (uniqueNotice).
func (m *merge) loseOnHub(t *target, c codec.Change) error {
	cur, err := m.rowValues(t, c.Key)
	if err != nil {
		return err
	}
	local, err := m.s.load(t.ID, changelog.KeyBytes(c.Key))
	if err != nil {
		return err
	}
	var out []conflicts.Column
	if cur == nil {
		var row change.Clock
		if local.Row != nil {
			row = *local.Row
		}
		out = append(out, conflicts.Column{LostClock: m.clock(c.Clock), WonClock: row, WonDeleted: true})
	}
	for i, ci := range c.Columns {
		if t.isKey[ci] {
			continue
		}
		name := t.cols[ci].Name
		won, _ := local.Column(t.ids[ci])
		out = append(out, conflicts.Column{Column: name, Lost: c.Values[i], Won: cur[name],
			LostClock: m.clock(c.Clocks[i]), WonClock: won, WonDeleted: cur == nil})
	}
	return m.record(t, c.Key, rules.KindUnique, out, true)
}

// uniqueNotices merges, on a device, the notices of kind unique a batch
// carries, before its changes: the hub's side they carry is older than
// any change of the batch to the same row, and the rows they remove or
// restore may hold the values the batch's rows take.
func (m *merge) uniqueNotices() error {
	if m.role != rules.RoleDevice {
		return nil
	}
	for _, c := range m.b.Changes {
		if isUniqueNotice(c) {
			if err := m.uniqueNotice(m.targets[c.Table], c); err != nil {
				return err
			}
		}
	}
	return nil
}

func isUniqueNotice(c codec.Change) bool {
	return c.Op == change.Lost && c.Clock.Seen == rules.KindNumber(rules.KindUnique)
}

// uniqueNotice takes, on a device, the hub's side of a write of this
// device that lost a UNIQUE collision there: the hub's values of the
// columns the write carried, or, if the hub has no such row, no row. The
// device's own values are recorded as lost. Columns the device wrote again
// since, not pushed yet, keep their value: the hub decides them when they
// arrive.
func (m *merge) uniqueNotice(t *target, c codec.Change) error {
	key := changelog.KeyBytes(c.Key)
	cur, err := m.rowValues(t, c.Key)
	if err != nil || cur == nil {
		return err // the row is gone here already: nothing of it stands
	}
	local, err := m.s.load(t.ID, key)
	if err != nil {
		return err
	}
	var pending rules.Pending
	if m.pending != nil {
		pending = m.pending[cacheKey(t.ID, key)]
	}
	var out []conflicts.Column
	if len(c.Columns) == 0 { // the hub has no such row
		var row change.Clock
		if local.Row != nil {
			row = *local.Row
		}
		out = append(out, conflicts.Column{LostClock: row, WonClock: m.clock(c.Clock), WonDeleted: true})
		for _, col := range t.Table.Writable() {
			if col.KeyIndex == 0 {
				lc, _ := local.Column(t.ColumnIDs[col.Name])
				out = append(out, conflicts.Column{Column: col.Name, Lost: cur[col.Name], LostClock: lc, WonDeleted: true})
			}
		}
		if err := m.record(t, c.Key, rules.KindUnique, out, false); err != nil {
			return err
		}
		if _, err := m.exec(t, "delete", nil, c.Key...); err != nil {
			return err
		}
		return m.s.setRow(t.ID, key, m.clock(c.Clock), true, m.stamp())
	}
	var cols []int
	var vals []any
	for i, ci := range c.Columns {
		id := t.ids[ci]
		if pending.Cols[id] {
			continue
		}
		lc, _ := local.Column(id)
		out = append(out, conflicts.Column{Column: t.names[id], Lost: cur[t.names[id]], Won: c.Values[i], LostClock: lc, WonClock: m.clock(c.Clocks[i])})
		cols, vals = append(cols, ci), append(vals, c.Values[i])
		if err := m.s.setCol(t.ID, key, id, m.clock(c.Clocks[i]), m.stamp()); err != nil {
			return err
		}
	}
	if err := m.record(t, c.Key, rules.KindUnique, out, false); err != nil {
		return err
	}
	if len(cols) == 0 {
		return nil
	}
	return m.writeColumns(t, cols, vals, c.Key)
}

// hasTable reports whether the device wrote a row of table tbl it has not
// pushed yet.
func (p pendingWrites) hasTable(tbl int64) bool {
	prefix := cacheKey(tbl, nil)
	for k := range p {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}
