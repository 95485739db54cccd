package rules

import (
	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/changelog"
)

// Role is the side a node merges a batch on. It is decided once, where a
// merge starts: every rule below it asks the role, never a peer's name.
type Role uint8

const (
	// RoleHub: the hub merging a device's push, which carries that
	// device's own writes, judged in the order they arrive.
	RoleHub Role = iota
	// RoleDevice: a device merging what its hub serves: every site's
	// writes, in the hub's order, and loss notices.
	RoleDevice
)

func (r Role) String() string {
	if r == RoleDevice {
		return "device"
	}
	return "hub"
}

// Kinds of conflict, as _sync_conflicts.kind and Conflict.Kind name them.
const (
	KindUpdate  = "update"  // a value lost to a concurrent write of the same column (of the row, under lww-row)
	KindInsert  = "insert"  // two nodes inserted different rows with the same key
	KindDelete  = "delete"  // a delete lost: the row was written again by a node that had not seen it
	KindDeleted = "deleted" // a value lost because a concurrent delete won
	// KindUnique: a row that would take a value of a UNIQUE column (not the
	// key) that another row holds; the later one in the hub's order is not
	// applied anywhere, and every value it carried is recorded.
	KindUnique = "unique"
	// KindOrphan: a row whose foreign key names a parent row that a
	// concurrent delete removed; the row stays, and is recorded.
	KindOrphan = "orphan"
)

// Merger is what a merge's decisions depend on besides the row: who
// merges, and whose batch it is.
type Merger struct {
	Role   Role
	Self   change.SiteID // the merging node's site
	Origin change.SiteID // the batch's origin: on the hub, the pushing device
	// BeforePush: on a device, the hub built this response before the
	// device's last acknowledged push landed there. It shows the hub from
	// before that push, and the hub never serves a device its own writes
	// again, so it must not replace one of them (see Verdict.Stale).
	BeforePush bool
}

// Table is what a merge's decisions need of the table a change names.
type Table struct {
	Policy changelog.Policy
	// Cols are the ids of its writable columns outside the key, in the
	// table's order: the values a delete removes.
	Cols []int64
}

// Local is what this node holds of the row a change names.
type Local struct {
	Clocks RowClocks
	// Exists: the row is in its table. A merge reads it for every change
	// but a delete, which needs not know.
	Exists bool
	// Pending: on a device, its own writes to the row not pushed yet.
	Pending Pending
}

// Pending is what a device wrote to a row since its last push.
type Pending struct {
	Any   bool           // anything
	Whole bool           // its insert or delete: the row and every column
	Cols  map[int64]bool // the columns its updates wrote, by id
}

// has reports whether the device's write of column id (0: the row's
// register) is pending.
func (p Pending) has(id int64) bool {
	return p.Any && (p.Whole || id == 0 || p.Cols[id])
}

// Incoming is the change being merged, its clocks resolved to sites.
type Incoming struct {
	Op    change.Op
	Clock change.Clock   // the row's clock; on a notice, the lost write's
	Seen  change.Version // its Seen; on a notice, the kind's number (see kinds)
	Cols  []ColumnWrite
}

// ColumnWrite is one column an incoming change writes.
type ColumnWrite struct {
	ID    int64 // the column's id
	Key   bool  // the column is part of the key, whose value never changes
	Clock change.Clock
	Seen  change.Version
}

// Write is what a verdict writes to the row.
type Write uint8

const (
	WriteNone    Write = iota // nothing: the change lost, or changes nothing
	WriteDelete               // delete the row
	WriteInsert               // insert the row, which this node does not have, with the change's values
	WriteRow                  // write every column of the change over the live row
	WriteColumns              // write the columns Verdict.Cols names
)

func (w Write) String() string {
	return [...]string{"none", "delete", "insert", "row", "columns"}[w]
}

// Verdict is what a merge does with one incoming change.
type Verdict struct {
	Write Write
	// Cols are, under WriteColumns, the change's columns that win, as
	// indexes into Incoming.Cols.
	Cols []int
	// Register: the row's register takes the change's clock (dead for a
	// delete). Under WriteColumns it is an insert's register winning,
	// logged as an insert so that a hub serves it on.
	Register bool
	// DropCols: the row's own column clocks are dropped before Clocks are
	// stored.
	DropCols bool
	// Clocks are the clocks stored in _sync_clock, in this order. A device
	// keeps none for a row only its hub wrote (see the package doc).
	Clocks []ClockWrite
	// Losses are the values this change overwrites, or that this node
	// rejects: one conflict event of kind Kind.
	Kind   string
	Losses []Loss
	// Notify: on the hub, the row is logged again with the losses, so that
	// the site whose write lost gets the winner and a loss notice on its
	// next pull.
	Notify bool
	// Stale: the change would replace this device's own write, which it
	// pushed, from a response built before that push landed (BeforePush):
	// the merge is refused with ErrStale and the response asked for again.
	Stale bool
	// HLC is the newest HLC the change carries, row or column: the node's
	// clock moves past it.
	HLC change.HLC
}

// ClockWrite is one clock a verdict stores: of column Col, or of the row's
// register when Col is 0.
type ClockWrite struct {
	Col   int64
	Clock change.Clock
	Dead  bool // the register says deleted
}

// Loss is one value lost: column Col's (0: the row's existence) on the
// Lost side, to the value on the Won side.
type Loss struct {
	Col                 int64
	Lost, Won           Side
	LostClock, WonClock change.Clock
}

// Side says where the value of one side of a loss is.
type Side uint8

const (
	SideLocal    Side = iota // this node's, before the change is applied (of Col 0: the row, live)
	SideIncoming             // the change's (of Col 0: the row, live)
	SideDeleted              // none: the row is deleted
)

// Decide is the merge of one incoming change into what this node holds of
// its row, by the rules of the package doc.
func Decide(by Merger, t Table, local Local, in Incoming) Verdict {
	d := decision{by: by, t: t, local: local, c: local.Clocks, in: in, v: Verdict{HLC: in.Clock.HLC}}
	// A merge raises the node's clock past every clock it merges, whether
	// the change wins, loses or is dropped: a later local write must order
	// after every write this node has seen.
	for _, c := range in.Cols {
		d.sees(c.Clock)
	}
	d.decide()
	return d.v
}

// decision is one Decide: its inputs and the verdict it builds.
type decision struct {
	by    Merger
	t     Table
	local Local
	c     RowClocks // local.Clocks
	in    Incoming
	v     Verdict
}

func (d *decision) decide() {
	whole := d.in.Op == change.Insert || d.t.Policy == changelog.LWWRow
	switch {
	case d.in.Op == change.Lost:
		d.notice()
	case d.in.Op == change.Delete:
		d.delete()
	case !d.local.Exists && whole:
		d.revive()
	case !d.local.Exists:
		// An update does not bring a deleted row back: only its writer
		// has the other columns.
		if d.c.Dead && d.concurrent(0, d.in.Clock, d.in.Seen) {
			d.lostToDelete()
		}
	case whole && d.rowOverRow():
		d.rowWrite()
	default:
		d.update()
	}
	d.v.Notify = len(d.v.Losses) > 0 && d.by.Role == RoleHub
}

// sees notes a clock the merge looked at: the node's clock moves past it.
func (d *decision) sees(c change.Clock) { d.v.HLC = max(d.v.HLC, c.HLC) }

// lose records the losses of the change's one event, if any.
func (d *decision) lose(kind string, losses ...Loss) {
	if len(losses) > 0 {
		d.v.Kind, d.v.Losses = kind, losses
	}
}

// loss is a column written on both sides of a concurrent merge, lost by
// the local side if localLost, else by the incoming one.
func loss(col int64, local, incoming change.Clock, localLost bool) Loss {
	if localLost {
		return Loss{Col: col, Lost: SideLocal, LostClock: local, Won: SideIncoming, WonClock: incoming}
	}
	return Loss{Col: col, Lost: SideIncoming, LostClock: incoming, Won: SideLocal, WonClock: local}
}

// orStale folds a refusal into the verdict and returns ok.
func (d *decision) orStale(ok, stale bool) bool {
	d.v.Stale = d.v.Stale || stale
	return ok
}

// keeps reports whether the node keeps clocks for the row: a device keeps
// none for a row only its hub wrote (see the package doc).
func (d *decision) keeps() bool {
	return d.by.Role == RoleHub || d.c.Row != nil || len(d.c.Cols) > 0
}

// rowOverRow reports whether a whole-row write meets a live row written
// concurrently (an insert collision under any policy but lww-column) or
// differently (lww-row): then the row is decided as a whole.
func (d *decision) rowOverRow() bool {
	row, rc := d.c.Row, d.in.Clock
	if row == nil || *row == rc || d.c.Dead || d.t.Policy == changelog.LWWColumn {
		return false
	}
	return d.t.Policy == changelog.LWWRow || d.concurrent(0, rc, d.in.Seen)
}

// delete merges a delete: it wins if its clock is newer than the row's.
func (d *decision) delete() {
	row, rc := d.c.Row, d.in.Clock
	if row != nil && !rc.Newer(*row) && !d.orStale(d.hubDecides()) {
		if !d.c.Dead && d.concurrent(0, rc, d.in.Seen) {
			// The row was written again, later, by a node that had not
			// seen this delete: the row stays, the delete is recorded.
			d.lose(KindDelete, Loss{Lost: SideDeleted, LostClock: rc, Won: SideLocal, WonClock: *row})
		}
		return
	}
	d.writesLostToDelete()
	d.v.Write, d.v.Register = WriteDelete, true
	if d.keeps() {
		d.v.DropCols = len(d.c.Cols) > 0
		d.v.Clocks = []ClockWrite{{Clock: rc, Dead: true}}
	}
}

// writesLostToDelete records the local writes that an incoming delete,
// made without having seen them, removes.
func (d *decision) writesLostToDelete() {
	if d.c.Row == nil && len(d.c.Cols) == 0 || d.c.Dead {
		return
	}
	rc, seen := d.in.Clock, d.in.Seen
	var losses []Loss
	for _, id := range d.t.Cols {
		if d.concurrent(id, rc, seen) {
			lc, _ := d.c.Column(id)
			losses = append(losses, Loss{Col: id, Lost: SideLocal, LostClock: lc, Won: SideDeleted, WonClock: rc})
		}
	}
	// The row itself, inserted where the delete's writer had not seen it.
	if d.c.Row != nil && d.concurrent(0, rc, seen) && (d.by.Role == RoleHub || d.local.Pending.Whole) {
		losses = append(losses, Loss{Lost: SideLocal, LostClock: *d.c.Row, Won: SideDeleted, WonClock: rc})
	}
	d.lose(KindDeleted, losses...)
}

// revive merges a whole row (an insert, or an lww-row update) that this
// node does not have. The row's register decides: a later delete keeps it
// out.
func (d *decision) revive() {
	row, rc := d.c.Row, d.in.Clock
	deleted := row != nil && d.c.Dead
	if deleted && !rc.Newer(*row) && !d.orStale(d.hubDecides()) {
		if d.concurrent(0, rc, d.in.Seen) {
			d.lostToDelete()
		}
		return // deleted after this write had seen the row
	}
	if deleted && d.concurrent(0, rc, d.in.Seen) {
		// A delete made without seeing this row: the row comes back.
		d.lose(KindDelete, Loss{Lost: SideDeleted, LostClock: *row, Won: SideIncoming, WonClock: rc})
	}
	d.insert()
}

// insert writes a row this node does not have, with every value the change
// carries; one clock for the row, and one more per column written later.
func (d *decision) insert() {
	d.v.Write, d.v.Register = WriteInsert, true
	if !d.keeps() {
		return
	}
	rc := d.in.Clock
	d.v.DropCols = len(d.c.Cols) > 0
	d.v.Clocks = append(d.v.Clocks, ClockWrite{Clock: rc})
	for _, cw := range d.in.Cols {
		d.sees(cw.Clock)
		if cw.Clock != rc {
			d.v.Clocks = append(d.v.Clocks, ClockWrite{Col: cw.ID, Clock: cw.Clock})
		}
	}
}

// lostToDelete records an incoming write that a local delete keeps out.
func (d *decision) lostToDelete() {
	kind := KindDeleted
	if d.in.Op == change.Insert {
		kind = KindInsert
	}
	var losses []Loss
	for _, cw := range d.in.Cols {
		if cw.Key {
			continue // the same on both sides
		}
		d.sees(cw.Clock)
		losses = append(losses, Loss{Col: cw.ID, Lost: SideIncoming, LostClock: cw.Clock, Won: SideDeleted, WonClock: *d.c.Row})
	}
	d.lose(kind, losses...)
}

// rowWrite merges a whole row into a live row written concurrently or
// differently (see rowOverRow): the later write's row wins as a whole,
// except that under manual the row the hub accepted first stays. The
// loser's values are recorded.
func (d *decision) rowWrite() {
	row, rc, seen := *d.c.Row, d.in.Clock, d.in.Seen
	conc := d.concurrent(0, rc, seen)
	win := rc.Newer(d.c.newest())
	switch {
	case d.t.Policy == changelog.Manual && d.by.Role == RoleDevice:
		win = d.orStale(d.hubStands(0, row, seen)) // the hub's row stands
	case d.t.Policy == changelog.Manual && conc:
		win = false // the hub keeps the row it accepted first
	}
	if conc {
		losses := make([]Loss, len(d.in.Cols))
		for i, cw := range d.in.Cols {
			d.sees(cw.Clock)
			lc, _ := d.c.Column(cw.ID)
			losses[i] = loss(cw.ID, lc, cw.Clock, win)
		}
		d.lose(d.writeKind(), losses...)
	}
	if !win {
		return
	}
	d.v.Write, d.v.Register = WriteRow, true
	if d.keeps() {
		d.v.DropCols = true
		d.v.Clocks = []ClockWrite{{Clock: rc}}
	}
}

// writeKind is the kind of a loss between two writes: rows inserted with
// the same key, or values written over each other.
func (d *decision) writeKind() string {
	if d.in.Op == change.Insert {
		return KindInsert
	}
	return KindUpdate
}

// update writes the columns whose clocks are newer than this node's, and
// makes an insert's clock the row's clock when it is newer. A column
// written concurrently on both sides has its loser recorded; under manual
// the value the hub holds stays.
func (d *decision) update() {
	row, rc := d.c.Row, d.in.Clock
	// An insert collision under lww-column: decided column by column like
	// any write, and every column recorded as the insert it was.
	collision := d.in.Op == change.Insert && row != nil && *row != rc && d.concurrent(0, rc, d.in.Seen)
	var losses []Loss
	for i, cw := range d.in.Cols {
		d.sees(cw.Clock)
		lc, has := d.c.Column(cw.ID)
		if has && cw.Clock == lc {
			continue // this very write
		}
		win, conc := d.columnWins(cw, lc, has)
		if conc || collision && has {
			losses = append(losses, loss(cw.ID, lc, cw.Clock, win))
		}
		if win {
			d.v.Cols = append(d.v.Cols, i)
		}
	}
	kind := KindUpdate
	if collision {
		kind = KindInsert
	}
	d.lose(kind, losses...)
	// A device takes its hub's register: the hub serves the row as it
	// decided it, and a write of this device it had to decide on is no
	// longer pending.
	d.v.Register = d.in.Op == change.Insert && (row == nil || rc.Newer(*row) || d.orStale(d.hubDecides()))
	d.columnClocks()
}

// columnWins decides one column of an update against the local value lc
// (has: the column has a clock): the newer write wins, but under manual
// the value the hub holds stays. conc: the two writes were concurrent.
func (d *decision) columnWins(cw ColumnWrite, lc change.Clock, has bool) (win, conc bool) {
	win = !has || cw.Clock.Newer(lc)
	conc = has && d.concurrent(cw.ID, cw.Clock, cw.Seen)
	switch {
	case d.t.Policy == changelog.Manual && d.by.Role == RoleDevice:
		win = d.orStale(d.hubStands(cw.ID, lc, cw.Seen)) // the hub's value stands
	case d.t.Policy == changelog.Manual && conc:
		win = false // the hub keeps the value it accepted first
	}
	return win, conc
}

// columnClocks ends an update: the columns that won are written, with
// their clocks, and the register's after them.
func (d *decision) columnClocks() {
	if len(d.v.Cols) == 0 && !d.v.Register {
		return
	}
	d.v.Write = WriteColumns
	if !d.keeps() {
		return
	}
	for _, i := range d.v.Cols {
		d.v.Clocks = append(d.v.Clocks, ClockWrite{Col: d.in.Cols[i].ID, Clock: d.in.Cols[i].Clock})
	}
	if d.v.Register {
		d.v.Clocks = append(d.v.Clocks, ClockWrite{Clock: d.in.Clock})
	}
}

// notice merges a loss notice: the hub reports that a write this device
// pushed lost there. The winner is what the device holds once the batch
// is merged.
func (d *decision) notice() {
	won := SideLocal
	if !d.local.Exists {
		won = SideDeleted
	}
	kind := noticeKind(d.in)
	if len(d.in.Cols) == 0 {
		var wc change.Clock
		if d.c.Row != nil {
			wc = *d.c.Row
		}
		d.lose(kind, Loss{Lost: SideDeleted, LostClock: d.in.Clock, Won: won, WonClock: wc})
		return
	}
	losses := make([]Loss, len(d.in.Cols))
	for i, cw := range d.in.Cols {
		d.sees(cw.Clock)
		wc, _ := d.c.Column(cw.ID)
		losses[i] = Loss{Col: cw.ID, Lost: SideIncoming, LostClock: cw.Clock, Won: won, WonClock: wc}
	}
	d.lose(kind, losses...)
}

// kinds numbers the kinds in a loss notice (codec: the Seen of its row clock).
var kinds = []string{1: KindUpdate, 2: KindInsert, 3: KindDelete, 4: KindDeleted, 5: KindUnique}

// KindNumber is the number a loss notice carries for a kind of conflict.
func KindNumber(kind string) change.Version {
	for i, k := range kinds {
		if k == kind {
			return change.Version(i)
		}
	}
	return 0
}

// noticeKind is the kind a notice names, or the one its shape suggests.
func noticeKind(in Incoming) string {
	if in.Seen > 0 && in.Seen < change.Version(len(kinds)) {
		return kinds[in.Seen]
	}
	if len(in.Cols) == 0 {
		return KindDelete
	}
	return KindUpdate
}

// concurrent reports whether the local write of column id (0: the row's
// register) and an incoming write were made without either having seen the
// other. On the hub, which orders all writes: the incoming write comes from
// its own writer, who had pulled up to seen, and the local value arrived
// after that from another site. On a device merging from its hub: the local
// value is the device's own write that it has not pushed yet (what it
// pushed, the hub compared already and tells it about, see notice), and
// the hub's value arrived there (seen, in a hub's batch) after the version
// the device had pulled when it wrote.
func (d *decision) concurrent(id int64, in change.Clock, seen change.Version) bool {
	lc, ok := d.c.Column(id) // of id 0, the register's
	if !ok {
		return false
	}
	st := d.c.StampOf(id)
	if d.by.Role == RoleDevice {
		return lc.Site == d.by.Self && d.local.Pending.has(id) && seen > st.Seen
	}
	return in.Site == d.by.Origin && lc.Site != in.Site && st.Arrived > seen
}

// hubStands reports whether, under manual, on a device, the value its hub
// serves replaces the local one, lc of column id (0: the row), regardless
// of clocks: it does unless the local value is this device's own write
// made after it had pulled the hub's value (arrived, the version the value
// arrived at on the hub, is at most what the write had seen), which
// follows the served value. stale: see overOwn.
func (d *decision) hubStands(id int64, lc change.Clock, arrived change.Version) (stands, stale bool) {
	if lc.Site != d.by.Self {
		return true, false
	}
	if arrived <= d.c.StampOf(id).Seen {
		return false, false
	}
	return d.overOwn(d.local.Pending.has(id))
}

// hubDecides reports whether, under manual, on a device, the row register
// its hub serves replaces this node's whatever the clocks say: the hub
// decided it (an insert collision keeps the row it accepted first, whatever
// its clock); unless the register is this device's own insert or delete not
// pushed yet, which the hub will decide, by clock, when it arrives. Under
// the other policies the hub decides a register by clock too, so the
// device's comparison agrees with it. stale: see overOwn.
func (d *decision) hubDecides() (decides, stale bool) {
	if d.by.Role != RoleDevice || d.t.Policy != changelog.Manual {
		return false, false
	}
	if d.c.Row == nil || d.c.Row.Site != d.by.Self {
		return true, false
	}
	if d.local.Pending.Whole {
		return false, false
	}
	return d.overOwn(false)
}

// overOwn reports whether a device may replace its own write with the
// hub's choice. It may while the write is not pushed (pending), and once
// the hub has decided on it, from a response the hub built after that push
// landed; from an older response it may not, and the merge is refused as
// stale, to be asked for again.
func (d *decision) overOwn(pending bool) (may, stale bool) {
	if pending || !d.by.BeforePush {
		return true, false
	}
	return false, true
}

// newest is the newest clock of a row: its register's or a column's.
func (r RowClocks) newest() change.Clock {
	var n change.Clock
	if r.Row != nil {
		n = *r.Row
	}
	for _, c := range r.Cols {
		if c.Newer(n) {
			n = c
		}
	}
	return n
}
