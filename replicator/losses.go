package replicator

import (
	"fmt"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/conflicts"
	"github.com/deltasync/deltasync/replicator/rules"
)

// stamp is the stamp this merge gives the clocks it writes: on the hub, the
// version at which the batch arrives.
func (m *merge) stamp() rules.Stamp { return rules.Stamp{Arrived: m.arrived} }

// recordLosses records a verdict's losses, with the values on both sides:
// the change's, and this node's as they are before the change is written.
func (m *merge) recordLosses(t *target, c codec.Change, v rules.Verdict) error {
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
	out := make([]conflicts.Column, len(v.Losses))
	for i, l := range v.Losses {
		out[i] = t.lostValue(c, cur, l)
	}
	return m.record(t, c.Key, v.Kind, out, v.Notify)
}

// readsLocal reports whether a loss names a value of this node's row.
func readsLocal(losses []rules.Loss) bool {
	for _, l := range losses {
		if l.Col != 0 && (l.Lost == rules.SideLocal || l.Won == rules.SideLocal) {
			return true
		}
	}
	return false
}

// lostValue is the conflict column of one loss of change c, cur being
// this node's row.
func (t *target) lostValue(c codec.Change, cur map[string]any, l rules.Loss) conflicts.Column {
	v := conflicts.Column{LostClock: l.LostClock, WonClock: l.WonClock, LostDeleted: l.Lost == rules.SideDeleted, WonDeleted: l.Won == rules.SideDeleted}
	if l.Col == 0 {
		return v
	}
	v.Column = t.names[l.Col]
	v.Lost, v.Won = t.value(c, cur, l.Col, l.Lost), t.value(c, cur, l.Col, l.Won)
	return v
}

// value is column id's value on one side of a loss.
func (t *target) value(c codec.Change, cur map[string]any, id int64, s rules.Side) any {
	switch s {
	case rules.SideLocal:
		return cur[t.names[id]]
	case rules.SideIncoming:
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

// record records the lost values of one event (conflicts.Record), leaving
// out columns whose two sides are equal (nothing was lost) and values
// recorded before. With notify (on the hub) it also logs the row again, so
// that the site whose write lost gets the winner and the notice of its loss
// on its next pull (Serve).
func (m *merge) record(t *target, key []any, kind string, vals []conflicts.Column, notify bool) error {
	var event int64
	for _, v := range vals {
		// A row that lost a UNIQUE collision keeps every value: resolving
		// it writes the row back.
		if kind != rules.KindUnique && !v.LostDeleted && !v.WonDeleted && changelog.SameValue(v.Lost, v.Won) {
			continue
		}
		id, err := conflicts.Record(m.ctx, m.tx, conflicts.Entry{Event: event, Table: t.Table.Name, Key: key, Kind: kind,
			Column: v, Version: m.arrived})
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
		if v.Column == "" {
			err = m.logChange(t, change.Insert, nil, key)
		} else {
			id := t.ColumnIDs[v.Column]
			err = m.logChange(t, change.Update, &id, key)
		}
		if err != nil {
			return err
		}
	}
	return nil
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
