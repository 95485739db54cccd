package replicator

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/schema"
	"github.com/jmoiron/sqlx"
)

// Kinds of conflict, as _sync_conflicts.kind names them.
const (
	kindUpdate  = "update"  // a value lost to a concurrent write of the same column (of the row, under lww-row)
	kindInsert  = "insert"  // two nodes inserted different rows with the same key
	kindDelete  = "delete"  // a delete lost: the row was written again by a node that had not seen it
	kindDeleted = "deleted" // a value lost because a concurrent delete won
)

// kinds numbers the kinds in a loss notice (codec: the Seen of its row clock).
var kinds = []string{1: kindUpdate, 2: kindInsert, 3: kindDelete, 4: kindDeleted}

func kindNumber(kind string) uint64 {
	for i, k := range kinds {
		if k == kind {
			return uint64(i)
		}
	}
	return 0
}

// lostValue is one row of _sync_conflicts: a column (col "" for the row's
// existence) whose losing and winning sides differ.
type lostValue struct {
	col                 string
	lost, won           any
	lostClock, wonClock Clock
	lostDead, wonDead   bool
}

// loss is a column written on both sides of a concurrent merge.
type loss struct {
	col                 int // batch column index
	incoming            any
	inClock, localClock Clock
	localLost           bool // the incoming value won
}

// stamp is the stamp this merge gives the clocks it writes: on the hub, the
// version at which the batch arrives.
func (m *merge) stamp() Stamp { return Stamp{Arrived: m.arrived} }

// concurrent reports whether the local write of column id (0: the row's
// register) and an incoming write were made without either having seen the
// other. On the hub, which orders all writes: the incoming write comes from
// its own writer, who had pulled up to seen, and the local value arrived
// after that from another site. On a device merging from its hub: the local
// value is the device's own write that it has not pushed yet (what it
// pushed, the hub compared already and tells it about, see notices), and
// the hub's value arrived there (seen, in a hub's batch) after the version
// the device had pulled when it wrote.
func (m *merge) concurrent(t *target, key []byte, id int64, local RowClocks, in Clock, seen uint64) bool {
	var lc Clock
	if id == 0 {
		if local.Row == nil {
			return false
		}
		lc = *local.Row
	} else {
		var ok bool
		if lc, ok = local.column(id); !ok {
			return false
		}
	}
	if m.role == RoleDevice {
		return lc.Site == m.s.self && m.pending.has(t.ID, key, id) && seen > local.stamp(id).Seen
	}
	return in.Site == m.origin && lc.Site != in.Site && local.stamp(id).Arrived > seen
}

// hubStands reports whether, under manual, on a device, the value its hub
// serves replaces the local one regardless of clocks: it does unless the
// local value is this device's own write made after it had pulled the hub's
// value (arrived, the version the value arrived at on the hub, is at most
// what the write had seen), which follows the served value.
func (m *merge) hubStands(t *target, key []byte, id int64, lc Clock, lst Stamp, arrived uint64) bool {
	if lc.Site != m.s.self {
		return true
	}
	return arrived > lst.Seen && m.overOwn(t, key, id, m.pending.has(t.ID, key, id))
}

// hubDecides reports whether, under manual, on a device, the row register
// its hub serves replaces this node's whatever the clocks say: the hub
// decided it (an insert collision keeps the row it accepted first, whatever
// its clock); unless the register is this device's own insert or delete not
// pushed yet, which the hub will decide, by clock, when it arrives. Under
// the other policies the hub decides a register by clock too, so the
// device's comparison agrees with it.
func (m *merge) hubDecides(t *target, key []byte, local RowClocks) bool {
	if m.role != RoleDevice || t.Policy != changelog.Manual {
		return false
	}
	if local.Row == nil || local.Row.Site != m.s.self {
		return true
	}
	return !m.pendingWhole(t, key) && m.overOwn(t, key, 0, false)
}

// overOwn reports whether a device may replace its own write with the
// hub's choice. It may while the write is not pushed (pending), and once
// the hub has decided on it, from a response the hub built after that
// push landed; from an older response it may not, and the merge is refused
// with ErrStale and asked for again.
func (m *merge) overOwn(t *target, key []byte, id int64, pending bool) bool {
	if pending || m.ackedAfter == 0 {
		return true
	}
	if m.stale == nil {
		m.stale = fmt.Errorf("%w: the hub built it at version %d, before this node's last push landed (version %d), and it would replace this node's write to %s",
			ErrStale, m.b.Head, m.ackedAfter, t.Table.Name)
	}
	return false
}

// pendingWrites are a device's local writes not yet pushed, by row.
type pendingWrites map[string]pendingRow

type pendingRow struct {
	whole bool // an insert or a delete: every column, and the row
	cols  map[int64]bool
}

// pendingWhole reports whether, on a device, the row's own insert or delete
// is not pushed yet.
func (m *merge) pendingWhole(t *target, key []byte) bool {
	return m.pending[cacheKey(t.ID, key)].whole
}

func (p pendingWrites) has(tbl int64, key []byte, id int64) bool {
	r, ok := p[cacheKey(tbl, key)]
	return ok && (r.whole || id == 0 || r.cols[id])
}

// loadPending reads the device's writes after its pushed cursor.
func loadPending(ctx context.Context, tx querier, log *changelog.Log, tracked map[string]changelog.Tracked) (pendingWrites, error) {
	pushed, err := Cursor(ctx, tx, hubPeer, "pushed")
	if err != nil {
		return nil, err
	}
	b, err := log.ReadOpsTx(ctx, tx, pushed, 0)
	if err != nil {
		return nil, err
	}
	p := pendingWrites{}
	for _, c := range b.Changes {
		t, ok := tracked[c.Table]
		if !ok {
			continue
		}
		r := pendingRow{whole: c.Op != changelog.OpUpdate, cols: map[int64]bool{}}
		for _, name := range c.Columns {
			r.cols[t.ColumnIDs[name]] = true
		}
		p[cacheKey(t.ID, changelog.KeyBytes(c.Key))] = r
	}
	return p, nil
}

// recordColumns records the losing side of columns written concurrently.
func (m *merge) recordColumns(t *target, key []any, kind string, losses []loss) error {
	cur, err := m.rowValues(t, key)
	if err != nil {
		return err
	}
	var out []lostValue
	for _, l := range losses {
		name := t.cols[l.col].Name
		v := lostValue{col: name, lost: l.incoming, won: cur[name], lostClock: l.inClock, wonClock: l.localClock}
		if l.localLost {
			v = lostValue{col: name, lost: cur[name], won: l.incoming, lostClock: l.localClock, wonClock: l.inClock}
		}
		out = append(out, v)
	}
	return m.record(t, key, kind, out)
}

// recordRow records the losing row of two whole-row writes.
func (m *merge) recordRow(t *target, c codec.Change, local RowClocks, rc Clock, kind string, incomingWon bool) error {
	losses := make([]loss, len(c.Columns))
	for i, ci := range c.Columns {
		lc, _ := local.column(t.ids[ci])
		losses[i] = loss{col: ci, incoming: c.Values[i], inClock: m.clock(c.Clocks[i]), localClock: lc, localLost: incomingWon}
	}
	return m.recordColumns(t, c.Key, kind, losses)
}

// lostToDelete records an incoming write that a local delete keeps out.
func (m *merge) lostToDelete(t *target, c codec.Change, local RowClocks, rc Clock) error {
	kind := kindDeleted
	if c.Op == codec.OpInsert {
		kind = kindInsert
	}
	var out []lostValue
	for i, ci := range c.Columns {
		if slices.Contains(t.Table.Key, t.cols[ci].Name) {
			continue // the same on both sides
		}
		out = append(out, lostValue{col: t.cols[ci].Name, lost: c.Values[i], lostClock: m.clock(c.Clocks[i]),
			wonDead: true, wonClock: *local.Row})
	}
	return m.record(t, c.Key, kind, out)
}

// writesLostToDelete records the local writes that an incoming delete, made
// without having seen them, removes.
func (m *merge) writesLostToDelete(t *target, key []any, kb []byte, local RowClocks, rc Clock, seen uint64) error {
	if local.Row == nil && len(local.Cols) == 0 || local.Dead {
		return nil
	}
	var cur map[string]any
	var out []lostValue
	for _, col := range t.Table.Writable() {
		id := t.ColumnIDs[col.Name]
		if slices.Contains(t.Table.Key, col.Name) || !m.concurrent(t, kb, id, local, rc, seen) {
			continue
		}
		if cur == nil {
			var err error
			if cur, err = m.rowValues(t, key); err != nil || cur == nil {
				return err
			}
		}
		lc, _ := local.column(id)
		out = append(out, lostValue{col: col.Name, lost: cur[col.Name], lostClock: lc, wonDead: true, wonClock: rc})
	}
	// The row itself, inserted where the delete's writer had not seen it.
	if local.Row != nil && m.concurrent(t, kb, 0, local, rc, seen) &&
		(m.role == RoleHub || m.pendingWhole(t, kb)) {
		out = append(out, lostValue{lostClock: *local.Row, wonDead: true, wonClock: rc})
	}
	return m.record(t, key, kindDeleted, out)
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
// two sides are equal (nothing was lost) and rows already recorded. On the
// hub it also logs the row again, so that the site whose write lost gets
// the winner and the notice of its loss on its next pull (Serve).
func (m *merge) record(t *target, key []any, kind string, vals []lostValue) error {
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
	if m.role == RoleDevice {
		return nil
	}
	for _, v := range vals {
		var err error
		if v.col == "" {
			err = m.logChange(t, codec.OpInsert, nil, key)
		} else {
			id := t.ColumnIDs[v.col]
			err = m.logChange(t, codec.OpUpdate, &id, key)
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
// device pushed that lost there. The winner is what the device holds once
// the batch is merged.
func (m *merge) notices(cs []codec.Change) error {
	for _, c := range cs {
		t := m.targets[c.Table]
		key := changelog.KeyBytes(c.Key)
		local, err := m.s.load(t.ID, key)
		if err != nil {
			return err
		}
		cur, err := m.rowValues(t, c.Key)
		if err != nil {
			return err
		}
		lost := m.clock(c.Clock)
		var won Clock
		if local.Row != nil {
			won = *local.Row
		}
		kind := noticeKind(c)
		if len(c.Columns) == 0 {
			if err := m.record(t, c.Key, kind, []lostValue{{lostDead: true, lostClock: lost, wonClock: won, wonDead: cur == nil}}); err != nil {
				return err
			}
			continue
		}
		var out []lostValue
		for i, ci := range c.Columns {
			name := t.cols[ci].Name
			wc, _ := local.column(t.ids[ci])
			out = append(out, lostValue{col: name, lost: c.Values[i], lostClock: m.clock(c.Clocks[i]),
				won: cur[name], wonClock: wc, wonDead: cur == nil})
		}
		if err := m.record(t, c.Key, kind, out); err != nil {
			return err
		}
	}
	return nil
}

// noticeKind is the kind a notice names, or the one its shape suggests.
func noticeKind(c codec.Change) string {
	if c.Clock.Seen > 0 && c.Clock.Seen < uint64(len(kinds)) {
		return kinds[c.Clock.Seen]
	}
	if len(c.Columns) == 0 {
		return kindDelete
	}
	return kindUpdate
}

// addNotices adds to a batch the hub serves a site the losses of that
// site's writes that the hub recorded in the batch's range of versions.
func (bd *builder) addNotices(ctx context.Context, q sqlx.QueryerContext, site changelog.SiteID) error {
	rows, err := q.QueryxContext(ctx, `SELECT event, tbl, k0, k1, k2, k3, kind, col, lost, lost_hlc, lost_dead
		FROM _sync_conflicts WHERE lost_site = ? AND ver > ? AND ver <= ? ORDER BY event, id`,
		site[:], bd.b.First, bd.b.Last)
	if err != nil {
		return fmt.Errorf("read conflicts to report: %w", err)
	}
	defer rows.Close()
	var cur *codec.Change
	var curEvent int64
	for rows.Next() {
		var r struct {
			event    int64
			tbl      string
			k        [4]any
			kind     string
			col      *string
			lost     any
			lostHLC  uint64
			lostDead bool
		}
		if err := rows.Scan(&r.event, &r.tbl, &r.k[0], &r.k[1], &r.k[2], &r.k[3], &r.kind, &r.col, &r.lost, &r.lostHLC, &r.lostDead); err != nil {
			return err
		}
		t, ok := bd.tracked[r.tbl]
		if !ok {
			continue
		}
		lc := bd.clock(Clock{HLC: r.lostHLC, Site: site}, 0)
		if cur == nil || r.event != curEvent {
			ti := bd.table(t)
			rowClock := lc
			rowClock.Seen = kindNumber(r.kind)
			bd.b.Changes = append(bd.b.Changes, codec.Change{Table: ti, Op: codec.OpLost, Key: slices.Clone(r.k[:len(t.Table.Key)]), Clock: rowClock})
			cur, curEvent = &bd.b.Changes[len(bd.b.Changes)-1], r.event
		}
		if r.col == nil {
			continue
		}
		idx := index(bd.b.Tables[cur.Table].Columns, *r.col)
		if idx < 0 || len(cur.Columns) > 0 && idx <= cur.Columns[len(cur.Columns)-1] {
			continue
		}
		cur.Columns = append(cur.Columns, idx)
		cur.Values = append(cur.Values, r.lost)
		cur.Clocks = append(cur.Clocks, lc)
	}
	return rows.Err()
}

// conflictSelect is the statement rowValues runs.
func conflictSelect(t schema.Table) string {
	cols := t.Writable()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = "+" + schema.Ident(c.Name) // no declared type: values as stored
	}
	return fmt.Sprintf(`SELECT %s FROM %s WHERE %s`, strings.Join(names, ", "), schema.Ident(t.Name), keyWhere(t))
}
