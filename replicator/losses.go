package replicator

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/codec"
)

// lostValue is one row of _sync_conflicts: a column (col "" for the row's
// existence) whose losing and winning sides differ.
type lostValue struct {
	col                 string
	lost, won           any
	lostClock, wonClock change.Clock
	lostDead, wonDead   bool
}

// stamp is the stamp this merge gives the clocks it writes: on the hub, the
// version at which the batch arrives.
func (m *merge) stamp() Stamp { return Stamp{Arrived: m.arrived} }

// recordLosses records a verdict's losses, with the values on both sides:
// the change's, and this node's as they are before the change is written.
func (m *merge) recordLosses(t *target, c codec.Change, v Verdict) error {
	if len(v.Losses) == 0 {
		return nil
	}
	var cur map[string]any
	if readsLocal(v.Losses) {
		var err error
		if cur, err = m.rowValues(t, c.Key); err != nil || cur == nil {
			return err // the row is not here: none of its values was lost
		}
	}
	out := make([]lostValue, len(v.Losses))
	for i, l := range v.Losses {
		out[i] = t.lostValue(c, cur, l)
	}
	return m.record(t, c.Key, v.Kind, out, v.Notify)
}

// readsLocal reports whether a loss names a value of this node's row.
func readsLocal(losses []Loss) bool {
	for _, l := range losses {
		if l.Col != 0 && (l.Lost == SideLocal || l.Won == SideLocal) {
			return true
		}
	}
	return false
}

// lostValue is the row of _sync_conflicts of one loss of change c, cur
// being this node's row.
func (t *target) lostValue(c codec.Change, cur map[string]any, l Loss) lostValue {
	v := lostValue{lostClock: l.LostClock, wonClock: l.WonClock, lostDead: l.Lost == SideDeleted, wonDead: l.Won == SideDeleted}
	if l.Col == 0 {
		return v
	}
	v.col = t.names[l.Col]
	v.lost, v.won = t.value(c, cur, l.Col, l.Lost), t.value(c, cur, l.Col, l.Won)
	return v
}

// value is column id's value on one side of a loss.
func (t *target) value(c codec.Change, cur map[string]any, id int64, s Side) any {
	switch s {
	case SideLocal:
		return cur[t.names[id]]
	case SideIncoming:
		for i, ci := range c.Columns {
			if t.ids[ci] == id {
				return c.Values[i]
			}
		}
	}
	return nil
}

// rowValues returns the row's writable values by column name, nil if it does not exist.
func (m *merge) rowValues(t *target, key []any) (map[string]any, error) {
	st, err := m.prepared(t, "select", nil)
	if err != nil {
		return nil, err
	}
	cols := t.Table.Writable()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	rows, err := st.QueryContext(m.ctx, key...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(cols))
	for i, c := range cols {
		out[c.Name] = vals[i]
	}
	return out, rows.Close()
}

// record writes the conflict rows of one event, leaving out columns whose
// two sides are equal (nothing was lost) and rows already recorded. With
// notify (on the hub) it also logs the row again, so that the site whose
// write lost gets the winner and the notice of its loss on its next pull
// (Serve).
func (m *merge) record(t *target, key []any, kind string, vals []lostValue, notify bool) error {
	var event int64
	for _, v := range vals {
		if !v.lostDead && !v.wonDead && changelog.SameValue(v.lost, v.won) {
			continue
		}
		id, err := m.insertConflict(t, key, kind, v, event)
		if err != nil {
			return fmt.Errorf("record conflict: %w", err)
		}
		if event == 0 && id != 0 {
			event = id
		}
	}
	if event == 0 {
		return nil
	}
	m.events = append(m.events, event)
	if !notify {
		return nil
	}
	for _, v := range vals {
		var err error
		if v.col == "" {
			err = m.logChange(t, change.Insert, nil, key)
		} else {
			id := t.ColumnIDs[v.col]
			err = m.logChange(t, change.Update, &id, key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (m *merge) insertConflict(t *target, key []any, kind string, v lostValue, event int64) (int64, error) {
	ks := make([]any, 4)
	copy(ks, key)
	var col any
	if v.col != "" {
		col = v.col
	}
	var id int64
	err := sqlx.GetContext(m.ctx, m.tx, &id, `INSERT INTO _sync_conflicts
		(event, tbl, rowkey, k0, k1, k2, k3, kind, col, lost, won, lost_hlc, lost_site, won_hlc, won_site, lost_dead, won_dead, ver)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING RETURNING id`,
		event, t.Table.Name, changelog.KeyBytes(key), ks[0], ks[1], ks[2], ks[3], kind, col, v.lost, v.won,
		v.lostClock.HLC, v.lostClock.Site[:], v.wonClock.HLC, v.wonClock.Site[:], v.lostDead, v.wonDead, m.arrived)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // recorded before
	}
	if err != nil {
		return 0, err
	}
	if event == 0 {
		_, err = m.tx.ExecContext(m.ctx, `UPDATE _sync_conflicts SET event = id WHERE id = ?`, id)
	}
	return id, err
}

// notices records, on a device, the losses its hub reports: writes this
// device pushed that lost there, decided once the batch is merged.
func (m *merge) notices(cs []codec.Change) error {
	for _, c := range cs {
		t := m.targets[c.Table]
		v, err := m.decide(t, c, changelog.KeyBytes(c.Key))
		if err != nil {
			return err
		}
		if err := m.recordLosses(t, c, v); err != nil {
			return err
		}
	}
	return nil
}
