package rules_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/replicator/rules"
)

// The cases below merge one change into one row of
// CREATE TABLE t (id PRIMARY KEY, a, b), whose columns have these ids.
const colID, colA, colB int64 = 1, 2, 3

var (
	hubSite = change.SiteID{'h'}
	devA    = change.SiteID{'a'} // on the hub, the pushing device; on a device, the device itself
	devB    = change.SiteID{'b'} // another device

	// onHub is the hub merging device A's push; onDevice is device A
	// merging what its hub serves, and onDeviceBehind the same from a
	// response built before A's last push landed.
	onHub          = rules.Merger{Role: rules.RoleHub, Self: hubSite, Origin: devA}
	onDevice       = rules.Merger{Role: rules.RoleDevice, Self: devA, Origin: hubSite}
	onDeviceBehind = rules.Merger{Role: rules.RoleDevice, Self: devA, Origin: hubSite, BeforePush: true}

	allPolicies  = changelog.Policies
	lwwColumn    = []changelog.Policy{changelog.LWWColumn}
	lwwRow       = []changelog.Policy{changelog.LWWRow}
	manual       = []changelog.Policy{changelog.Manual}
	byColumn     = []changelog.Policy{changelog.LWWColumn, changelog.Manual} // an update writes columns, not the row
	byClockAlone = []changelog.Policy{changelog.LWWColumn, changelog.LWWRow}
)

func at(hlc change.HLC, site change.SiteID) change.Clock {
	return change.Clock{HLC: hlc, Site: site}
}

// arrived is the stamp of a value that arrived on the hub at version v;
// seen, of a device's own write made when it had pulled up to v.
func arrived(v change.Version) rules.Stamp { return rules.Stamp{Arrived: v} }
func seen(v change.Version) rules.Stamp    { return rules.Stamp{Seen: v} }

// live is a row this node has, whose register (and every column) has clock c.
func live(c change.Clock, st rules.Stamp) rules.Local {
	return rules.Local{Exists: true, Clocks: rules.RowClocks{Row: &c, Stamps: map[int64]rules.Stamp{0: st}}}
}

// deleted is a row this node deleted, or merged the delete of, at c.
func deleted(c change.Clock, st rules.Stamp) rules.Local {
	return rules.Local{Clocks: rules.RowClocks{Row: &c, Dead: true, Stamps: map[int64]rules.Stamp{0: st}}}
}

// absent is a row this node neither has nor has clocks for.
var absent = rules.Local{}

// unclocked is a row this node has without clocks: a device's row that
// only its hub wrote, or one from before install.
var unclocked = rules.Local{Exists: true}

// withCol is l with column col written later, at c.
func withCol(l rules.Local, col int64, c change.Clock, st rules.Stamp) rules.Local {
	l.Clocks.Cols = map[int64]change.Clock{col: c}
	l.Clocks.Stamps[col] = st
	return l
}

// unpushed is l with the device's own writes to it not pushed yet: its
// insert or delete (whole), else updates of cols.
func unpushed(l rules.Local, whole bool, cols ...int64) rules.Local {
	l.Pending = rules.Pending{Any: true, Whole: whole, Cols: map[int64]bool{}}
	for _, c := range cols {
		l.Pending.Cols[c] = true
	}
	return l
}

// insertRow is an insert of the whole row, every column written at c by a
// writer that had seen version seen.
func insertRow(c change.Clock, seen change.Version) rules.Incoming {
	in := updateRow(c, seen)
	in.Op = change.Insert
	return in
}

// updateRow is an update of every column, as lww-row sends one.
func updateRow(c change.Clock, seen change.Version) rules.Incoming {
	return rules.Incoming{Op: change.Update, Clock: c, Seen: seen, Cols: []rules.ColumnWrite{
		{ID: colID, Key: true, Clock: c, Seen: seen}, {ID: colA, Clock: c, Seen: seen}, {ID: colB, Clock: c, Seen: seen}}}
}

// updateCol is an update of column col.
func updateCol(col int64, c change.Clock, seen change.Version) rules.Incoming {
	return rules.Incoming{Op: change.Update, Clock: c, Seen: seen, Cols: []rules.ColumnWrite{{ID: col, Clock: c, Seen: seen}}}
}

func deleteRow(c change.Clock, seen change.Version) rules.Incoming {
	return rules.Incoming{Op: change.Delete, Clock: c, Seen: seen}
}

// noticeOf is a loss notice of kind (its number) for the write at c of
// cols (none: the row's existence).
func noticeOf(kind change.Version, c change.Clock, cols ...int64) rules.Incoming {
	in := rules.Incoming{Op: change.Lost, Clock: c, Seen: kind}
	for _, col := range cols {
		in.Cols = append(in.Cols, rules.ColumnWrite{ID: col, Clock: c})
	}
	return in
}

// register stores the register's clock; col, a column's.
func register(c change.Clock) rules.ClockWrite { return rules.ClockWrite{Clock: c} }
func dead(c change.Clock) rules.ClockWrite {
	return rules.ClockWrite{Clock: c, Dead: true}
}
func col(id int64, c change.Clock) rules.ClockWrite {
	return rules.ClockWrite{Col: id, Clock: c}
}

// lost is a loss of the local value to the incoming one; beaten, of the
// incoming value to the local one.
func lost(col int64, local, incoming change.Clock) rules.Loss {
	return rules.Loss{Col: col, Lost: rules.SideLocal, LostClock: local, Won: rules.SideIncoming, WonClock: incoming}
}
func beaten(col int64, incoming, local change.Clock) rules.Loss {
	return rules.Loss{Col: col, Lost: rules.SideIncoming, LostClock: incoming, Won: rules.SideLocal, WonClock: local}
}

// decideCase is one rule of the package doc, as one change merged into
// one row under each of policies, with the verdict it must give.
type decideCase struct {
	rule     string
	policies []changelog.Policy
	by       rules.Merger
	local    rules.Local
	in       rules.Incoming
	want     rules.Verdict
}

// decideCases are the rules of the package doc, in its order. A rule that
// holds for one role only says so; so does one that holds only under some
// policies, and the cases after it give the others.
var decideCases = []decideCase{
	// # Merge rules (per-column last-writer-wins)
	{rule: "a delete newer than the row deletes it", policies: allPolicies, by: onHub,
		local: live(at(10, devB), arrived(3)), in: deleteRow(at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteDelete, Register: true,
			Clocks: []rules.ClockWrite{dead(at(20, devA))}}},
	{rule: "a delete newer than the row drops its column clocks", policies: allPolicies, by: onHub,
		local: withCol(live(at(10, devB), arrived(3)), colA, at(15, devB), arrived(3)), in: deleteRow(at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteDelete, Register: true, DropCols: true,
			Clocks: []rules.ClockWrite{dead(at(20, devA))}}},
	{rule: "a delete older than the row is not applied", policies: byClockAlone, by: onHub,
		local: live(at(20, devA), arrived(3)), in: deleteRow(at(10, devA), 5),
		want: rules.Verdict{}},
	{rule: "an insert newer than the row's delete makes it live", policies: allPolicies, by: onHub,
		local: deleted(at(10, devB), arrived(3)), in: insertRow(at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteInsert, Register: true,
			Clocks: []rules.ClockWrite{register(at(20, devA))}}},
	{rule: "an insert older than a delete is not applied", policies: allPolicies, by: onHub,
		local: deleted(at(20, devA), arrived(3)), in: insertRow(at(10, devA), 5),
		want: rules.Verdict{}},
	{rule: "an insert of a new row is inserted, as insertNew does in bulk", policies: allPolicies, by: onHub,
		local: absent, in: insertRow(at(10, devA), 5),
		want: rules.Verdict{Write: rules.WriteInsert, Register: true,
			Clocks: []rules.ClockWrite{register(at(10, devA))}}},
	{rule: "an update writes each column whose clock is newer", policies: byColumn, by: onHub,
		local: live(at(10, devB), arrived(3)), in: updateCol(colA, at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0},
			Clocks: []rules.ClockWrite{col(colA, at(20, devA))}}},
	{rule: "an update older than the column is not applied", policies: byColumn, by: onHub,
		local: withCol(live(at(10, devB), arrived(3)), colA, at(30, devB), arrived(3)), in: updateCol(colA, at(20, devA), 5),
		want: rules.Verdict{}},
	{rule: "an update of a column this very write set changes nothing", policies: byColumn, by: onHub,
		local: withCol(live(at(10, devB), arrived(3)), colA, at(20, devA), arrived(6)), in: updateCol(colA, at(20, devA), 5),
		want: rules.Verdict{}},
	{rule: "an update does not bring a deleted row back", policies: byColumn, by: onHub,
		local: deleted(at(10, devB), arrived(3)), in: updateCol(colA, at(20, devA), 5),
		want: rules.Verdict{}},
	{rule: "an update of a row this node does not have is dropped", policies: byColumn, by: onHub,
		local: absent, in: updateCol(colA, at(20, devA), 5),
		want: rules.Verdict{}},
	{rule: "a delete wins over a concurrent update, which is recorded as deleted", policies: byColumn, by: onHub,
		local: deleted(at(10, devB), arrived(8)), in: updateCol(colA, at(20, devA), 5),
		want: rules.Verdict{Kind: rules.KindDeleted, Notify: true, Losses: []rules.Loss{
			{Col: colA, Lost: rules.SideIncoming, LostClock: at(20, devA), Won: rules.SideDeleted, WonClock: at(10, devB)}}}},
	{rule: "an insert wins over an older delete made without seeing the row, which is recorded", policies: allPolicies, by: onHub,
		local: deleted(at(10, devB), arrived(8)), in: insertRow(at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteInsert, Register: true,
			Clocks: []rules.ClockWrite{register(at(20, devA))},
			Kind:   rules.KindDelete, Notify: true, Losses: []rules.Loss{
				{Lost: rules.SideDeleted, LostClock: at(10, devB), Won: rules.SideIncoming, WonClock: at(20, devA)}}}},

	// _sync_clock: one clock for the row and the columns written with it,
	// one more per column written later; none on a device for what only
	// its hub wrote.
	{rule: "an insert keeps one clock, and one more per column written later", policies: allPolicies, by: onHub,
		local: absent, in: func() rules.Incoming {
			in := insertRow(at(10, devA), 5)
			in.Cols[2].Clock = at(20, devA)
			return in
		}(),
		want: rules.Verdict{Write: rules.WriteInsert, Register: true,
			Clocks: []rules.ClockWrite{register(at(10, devA)), col(colB, at(20, devA))}}},
	{rule: "a device keeps no clocks for a row only its hub wrote", policies: allPolicies, by: onDevice,
		local: absent, in: insertRow(at(10, devB), 4),
		want: rules.Verdict{Write: rules.WriteInsert, Register: true}},
	{rule: "a device keeps no clocks for a row only its hub wrote, updated", policies: byColumn, by: onDevice,
		local: unclocked, in: updateCol(colA, at(10, devB), 4),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0}}},
	{rule: "a device keeps no clocks for a row only its hub wrote, deleted", policies: allPolicies, by: onDevice,
		local: unclocked, in: deleteRow(at(10, devB), 4),
		want: rules.Verdict{Write: rules.WriteDelete, Register: true}},
	{rule: "a device keeps the clocks of a row it wrote itself", policies: byColumn, by: onDevice,
		local: live(at(10, devA), seen(2)), in: updateCol(colA, at(20, devB), 4),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0},
			Clocks: []rules.ClockWrite{col(colA, at(20, devB))}}},

	// # Policies and conflicts
	{rule: "lww-column: concurrent edits of different columns both survive", policies: byColumn, by: onHub,
		local: withCol(live(at(5, devB), arrived(2)), colB, at(20, devB), arrived(8)), in: updateCol(colA, at(15, devA), 5),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0},
			Clocks: []rules.ClockWrite{col(colA, at(15, devA))}}},
	{rule: "lww-column: the later of two concurrent writes of a column wins, the other is recorded", policies: lwwColumn, by: onHub,
		local: withCol(live(at(5, devB), arrived(2)), colA, at(10, devB), arrived(8)), in: updateCol(colA, at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0},
			Clocks: []rules.ClockWrite{col(colA, at(20, devA))},
			Kind:   rules.KindUpdate, Notify: true, Losses: []rules.Loss{lost(colA, at(10, devB), at(20, devA))}}},
	{rule: "lww-column: the earlier of two concurrent writes of a column is recorded", policies: lwwColumn, by: onHub,
		local: withCol(live(at(5, devB), arrived(2)), colA, at(20, devB), arrived(8)), in: updateCol(colA, at(10, devA), 5),
		want: rules.Verdict{Kind: rules.KindUpdate, Notify: true,
			Losses: []rules.Loss{beaten(colA, at(10, devA), at(20, devB))}}},
	{rule: "lww-column: an insert collision is decided column by column, recorded as an insert", policies: lwwColumn, by: onHub,
		local: live(at(10, devB), arrived(8)), in: insertRow(at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0, 1, 2}, Register: true,
			Clocks: []rules.ClockWrite{col(colID, at(20, devA)), col(colA, at(20, devA)), col(colB, at(20, devA)), register(at(20, devA))},
			Kind:   rules.KindInsert, Notify: true, Losses: []rules.Loss{
				lost(colID, at(10, devB), at(20, devA)), lost(colA, at(10, devB), at(20, devA)), lost(colB, at(10, devB), at(20, devA))}}},
	{rule: "lww-column: an insert collision the local row wins keeps it, recorded as an insert", policies: lwwColumn, by: onHub,
		local: live(at(20, devB), arrived(8)), in: insertRow(at(10, devA), 5),
		want: rules.Verdict{Kind: rules.KindInsert, Notify: true, Losses: []rules.Loss{
			beaten(colID, at(10, devA), at(20, devB)), beaten(colA, at(10, devA), at(20, devB)), beaten(colB, at(10, devA), at(20, devB))}}},
	{rule: "lww-row: a write of the row replaces it whole", policies: lwwRow, by: onHub,
		local: withCol(live(at(10, devB), arrived(3)), colB, at(12, devB), arrived(3)), in: updateRow(at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteRow, Register: true, DropCols: true,
			Clocks: []rules.ClockWrite{register(at(20, devA))}}},
	{rule: "lww-row: the later of two concurrent writes wins as a whole, the other is recorded", policies: lwwRow, by: onHub,
		local: live(at(10, devB), arrived(8)), in: updateRow(at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteRow, Register: true, DropCols: true,
			Clocks: []rules.ClockWrite{register(at(20, devA))},
			Kind:   rules.KindUpdate, Notify: true, Losses: []rules.Loss{
				lost(colID, at(10, devB), at(20, devA)), lost(colA, at(10, devB), at(20, devA)), lost(colB, at(10, devB), at(20, devA))}}},
	{rule: "lww-row: the earlier of two concurrent writes loses as a whole", policies: lwwRow, by: onHub,
		local: withCol(live(at(10, devB), arrived(8)), colB, at(30, devB), arrived(8)), in: updateRow(at(20, devA), 5),
		want: rules.Verdict{Kind: rules.KindUpdate, Notify: true, Losses: []rules.Loss{
			beaten(colID, at(20, devA), at(10, devB)), beaten(colA, at(20, devA), at(10, devB)), beaten(colB, at(20, devA), at(30, devB))}}},
	{rule: "lww-row: a later update brings a row deleted concurrently back", policies: lwwRow, by: onHub,
		local: deleted(at(10, devB), arrived(8)), in: updateRow(at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteInsert, Register: true,
			Clocks: []rules.ClockWrite{register(at(20, devA))},
			Kind:   rules.KindDelete, Notify: true, Losses: []rules.Loss{
				{Lost: rules.SideDeleted, LostClock: at(10, devB), Won: rules.SideIncoming, WonClock: at(20, devA)}}}},
	{rule: "lww-row: an update older than a concurrent delete is recorded as deleted", policies: lwwRow, by: onHub,
		local: deleted(at(20, devB), arrived(8)), in: updateRow(at(10, devA), 5),
		want: rules.Verdict{Kind: rules.KindDeleted, Notify: true, Losses: []rules.Loss{
			{Col: colA, Lost: rules.SideIncoming, LostClock: at(10, devA), Won: rules.SideDeleted, WonClock: at(20, devB)},
			{Col: colB, Lost: rules.SideIncoming, LostClock: at(10, devA), Won: rules.SideDeleted, WonClock: at(20, devB)}}}},
	{rule: "lww-row: an insert collision is decided as a whole, recorded as an insert", policies: lwwRow, by: onHub,
		local: live(at(10, devB), arrived(8)), in: insertRow(at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteRow, Register: true, DropCols: true,
			Clocks: []rules.ClockWrite{register(at(20, devA))},
			Kind:   rules.KindInsert, Notify: true, Losses: []rules.Loss{
				lost(colID, at(10, devB), at(20, devA)), lost(colA, at(10, devB), at(20, devA)), lost(colB, at(10, devB), at(20, devA))}}},
	{rule: "manual: the hub keeps the value it accepted first, the later write is recorded", policies: manual, by: onHub,
		local: withCol(live(at(5, devB), arrived(2)), colA, at(10, devB), arrived(8)), in: updateCol(colA, at(20, devA), 5),
		want: rules.Verdict{Kind: rules.KindUpdate, Notify: true,
			Losses: []rules.Loss{beaten(colA, at(20, devA), at(10, devB))}}},
	{rule: "manual: the hub keeps the row it accepted first, the later insert is recorded", policies: manual, by: onHub,
		local: live(at(10, devB), arrived(8)), in: insertRow(at(20, devA), 5),
		want: rules.Verdict{Kind: rules.KindInsert, Notify: true, Losses: []rules.Loss{
			beaten(colID, at(20, devA), at(10, devB)), beaten(colA, at(20, devA), at(10, devB)), beaten(colB, at(20, devA), at(10, devB))}}},
	{rule: "manual: a device takes the value its hub serves over its own pushed write", policies: manual, by: onDevice,
		local: withCol(live(at(5, devA), seen(2)), colA, at(20, devA), seen(3)), in: updateCol(colA, at(10, devB), 6),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0},
			Clocks: []rules.ClockWrite{col(colA, at(10, devB))}}},
	{rule: "manual: a device takes the value its hub serves over its own write not pushed yet, recorded", policies: manual, by: onDevice,
		local: unpushed(withCol(live(at(5, devA), seen(2)), colA, at(20, devA), seen(3)), false, colA), in: updateCol(colA, at(10, devB), 6),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0},
			Clocks: []rules.ClockWrite{col(colA, at(10, devB))},
			Kind:   rules.KindUpdate, Losses: []rules.Loss{lost(colA, at(20, devA), at(10, devB))}}},
	{rule: "manual: a device keeps its own write that had seen the value its hub serves", policies: manual, by: onDevice,
		local: withCol(live(at(5, devA), seen(2)), colA, at(20, devA), seen(7)), in: updateCol(colA, at(30, devB), 6),
		want: rules.Verdict{}},
	{rule: "manual: a device takes the value its hub serves over another site's", policies: manual, by: onDevice,
		local: live(at(30, devB), seen(0)), in: updateCol(colA, at(10, hubSite), 6),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0},
			Clocks: []rules.ClockWrite{col(colA, at(10, hubSite))}}},
	{rule: "manual: a device takes the row its hub accepted first, over its own pushed insert", policies: manual, by: onDevice,
		local: live(at(20, devA), seen(3)), in: insertRow(at(10, devB), 6),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0, 1, 2}, Register: true,
			Clocks: []rules.ClockWrite{col(colID, at(10, devB)), col(colA, at(10, devB)), col(colB, at(10, devB)), register(at(10, devB))}}},
	{rule: "manual: a device takes a delete its hub serves, older than its own pushed write", policies: manual, by: onDevice,
		local: live(at(20, devA), seen(3)), in: deleteRow(at(10, devB), 6),
		want: rules.Verdict{Write: rules.WriteDelete, Register: true,
			Clocks: []rules.ClockWrite{dead(at(10, devB))}}},
	{rule: "a device does not take an older delete under the policies that decide by clock", policies: byClockAlone, by: onDevice,
		local: live(at(20, devA), seen(3)), in: deleteRow(at(10, devB), 6),
		want: rules.Verdict{}},
	{rule: "a device keeps its own insert not pushed yet over an older delete, which the hub decides by clock", policies: allPolicies, by: onDevice,
		local: unpushed(live(at(20, devA), seen(3)), true), in: deleteRow(at(10, devB), 6),
		want: rules.Verdict{Kind: rules.KindDelete, Losses: []rules.Loss{
			{Lost: rules.SideDeleted, LostClock: at(10, devB), Won: rules.SideLocal, WonClock: at(20, devA)}}}},

	// Concurrency: on the hub by arrival and writer, on a device for its
	// own writes not pushed yet.
	{rule: "on the hub, a write is concurrent with another site's value that arrived after its writer's pull", policies: lwwColumn, by: onHub,
		local: withCol(live(at(5, devB), arrived(2)), colA, at(10, devB), arrived(6)), in: updateCol(colA, at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0},
			Clocks: []rules.ClockWrite{col(colA, at(20, devA))},
			Kind:   rules.KindUpdate, Notify: true, Losses: []rules.Loss{lost(colA, at(10, devB), at(20, devA))}}},
	{rule: "on the hub, a write that follows one it had seen is never a conflict", policies: byColumn, by: onHub,
		local: withCol(live(at(5, devB), arrived(2)), colA, at(10, devB), arrived(5)), in: updateCol(colA, at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0},
			Clocks: []rules.ClockWrite{col(colA, at(20, devA))}}},
	{rule: "on the hub, a write over its writer's own earlier value is never a conflict", policies: lwwColumn, by: onHub,
		local: withCol(live(at(5, devB), arrived(2)), colA, at(10, devA), arrived(8)), in: updateCol(colA, at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0},
			Clocks: []rules.ClockWrite{col(colA, at(20, devA))}}},
	{rule: "on the hub, a write another site made is not judged as the pusher's", policies: lwwColumn, by: onHub,
		local: withCol(live(at(5, devB), arrived(2)), colA, at(10, devB), arrived(8)), in: updateCol(colA, at(20, hubSite), 5),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0},
			Clocks: []rules.ClockWrite{col(colA, at(20, hubSite))}}},
	{rule: "on a device, a served value concurrent with its own write not pushed yet is recorded", policies: lwwColumn, by: onDevice,
		local: unpushed(withCol(live(at(5, devA), seen(2)), colA, at(10, devA), seen(3)), false, colA), in: updateCol(colA, at(20, devB), 6),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0},
			Clocks: []rules.ClockWrite{col(colA, at(20, devB))},
			Kind:   rules.KindUpdate, Losses: []rules.Loss{lost(colA, at(10, devA), at(20, devB))}}},
	{rule: "on a device, its own write it pushed is not judged again", policies: lwwColumn, by: onDevice,
		local: withCol(live(at(5, devA), seen(2)), colA, at(10, devA), seen(3)), in: updateCol(colA, at(20, devB), 6),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0},
			Clocks: []rules.ClockWrite{col(colA, at(20, devB))}}},
	{rule: "on a device, a served value its own write had seen is not a conflict", policies: lwwColumn, by: onDevice,
		local: unpushed(withCol(live(at(5, devA), seen(2)), colA, at(30, devA), seen(7)), false, colA), in: updateCol(colA, at(20, devB), 6),
		want: rules.Verdict{}},
	{rule: "a delete removes the concurrent writes it had not seen, recorded as deleted", policies: allPolicies, by: onHub,
		local: withCol(live(at(10, devB), arrived(8)), colA, at(15, devB), arrived(8)), in: deleteRow(at(20, devA), 5),
		want: rules.Verdict{Write: rules.WriteDelete, Register: true, DropCols: true,
			Clocks: []rules.ClockWrite{dead(at(20, devA))},
			Kind:   rules.KindDeleted, Notify: true, Losses: []rules.Loss{
				{Col: colA, Lost: rules.SideLocal, LostClock: at(15, devB), Won: rules.SideDeleted, WonClock: at(20, devA)},
				{Col: colB, Lost: rules.SideLocal, LostClock: at(10, devB), Won: rules.SideDeleted, WonClock: at(20, devA)},
				{Lost: rules.SideLocal, LostClock: at(10, devB), Won: rules.SideDeleted, WonClock: at(20, devA)}}}},
	{rule: "a delete loses to a later write it had not seen, and is recorded", policies: allPolicies, by: onHub,
		local: live(at(20, devB), arrived(8)), in: deleteRow(at(10, devA), 5),
		want: rules.Verdict{Kind: rules.KindDelete, Notify: true, Losses: []rules.Loss{
			{Lost: rules.SideDeleted, LostClock: at(10, devA), Won: rules.SideLocal, WonClock: at(20, devB)}}}},
	{rule: "an insert a concurrent delete keeps out is recorded as an insert", policies: allPolicies, by: onHub,
		local: deleted(at(20, devB), arrived(8)), in: insertRow(at(10, devA), 5),
		want: rules.Verdict{Kind: rules.KindInsert, Notify: true, Losses: []rules.Loss{
			{Col: colA, Lost: rules.SideIncoming, LostClock: at(10, devA), Won: rules.SideDeleted, WonClock: at(20, devB)},
			{Col: colB, Lost: rules.SideIncoming, LostClock: at(10, devA), Won: rules.SideDeleted, WonClock: at(20, devB)}}}},
	{rule: "on a device, a served delete removes its own write not pushed yet, recorded as deleted", policies: allPolicies, by: onDevice,
		local: unpushed(withCol(live(at(5, devA), seen(2)), colA, at(10, devA), seen(3)), false, colA), in: deleteRow(at(20, devB), 6),
		want: rules.Verdict{Write: rules.WriteDelete, Register: true, DropCols: true,
			Clocks: []rules.ClockWrite{dead(at(20, devB))},
			Kind:   rules.KindDeleted, Losses: []rules.Loss{
				{Col: colA, Lost: rules.SideLocal, LostClock: at(10, devA), Won: rules.SideDeleted, WonClock: at(20, devB)}}}},
	{rule: "on a device, a served delete removes its own insert not pushed yet, recorded as deleted", policies: allPolicies, by: onDevice,
		local: unpushed(live(at(10, devA), seen(3)), true), in: deleteRow(at(20, devB), 6),
		want: rules.Verdict{Write: rules.WriteDelete, Register: true,
			Clocks: []rules.ClockWrite{dead(at(20, devB))},
			Kind:   rules.KindDeleted, Losses: []rules.Loss{
				{Col: colA, Lost: rules.SideLocal, LostClock: at(10, devA), Won: rules.SideDeleted, WonClock: at(20, devB)},
				{Col: colB, Lost: rules.SideLocal, LostClock: at(10, devA), Won: rules.SideDeleted, WonClock: at(20, devB)},
				{Lost: rules.SideLocal, LostClock: at(10, devA), Won: rules.SideDeleted, WonClock: at(20, devB)}}}},

	// Stale responses.
	{rule: "a response built before the device's last push does not replace its write: stale", policies: manual, by: onDeviceBehind,
		local: withCol(live(at(5, devA), seen(2)), colA, at(20, devA), seen(3)), in: updateCol(colA, at(10, devB), 6),
		want: rules.Verdict{Stale: true}},
	{rule: "a response built before the device's last push does not replace its row: stale", policies: manual, by: onDeviceBehind,
		local: live(at(20, devA), seen(3)), in: deleteRow(at(10, devB), 6),
		want: rules.Verdict{Stale: true}},
	{rule: "a response built before the device's last push may replace a write not pushed yet", policies: manual, by: onDeviceBehind,
		local: unpushed(withCol(live(at(5, devA), seen(2)), colA, at(20, devA), seen(3)), false, colA), in: updateCol(colA, at(10, devB), 6),
		want: rules.Verdict{Write: rules.WriteColumns, Cols: []int{0},
			Clocks: []rules.ClockWrite{col(colA, at(10, devB))},
			Kind:   rules.KindUpdate, Losses: []rules.Loss{lost(colA, at(20, devA), at(10, devB))}}},
	{rule: "a response built before the device's last push may change rows it never wrote", policies: allPolicies, by: onDeviceBehind,
		local: unclocked, in: deleteRow(at(10, devB), 6),
		want: rules.Verdict{Write: rules.WriteDelete, Register: true}},

	// Loss notices.
	{rule: "a loss notice is recorded with what the device holds as the winner", policies: allPolicies, by: onDevice,
		local: live(at(30, devB), seen(0)), in: noticeOf(1, at(20, devA), colA),
		want: rules.Verdict{Kind: rules.KindUpdate, Losses: []rules.Loss{
			{Col: colA, Lost: rules.SideIncoming, LostClock: at(20, devA), Won: rules.SideLocal, WonClock: at(30, devB)}}}},
	{rule: "a loss notice of a row the device no longer has was lost to a delete", policies: allPolicies, by: onDevice,
		local: deleted(at(30, devB), seen(0)), in: noticeOf(2, at(20, devA), colA),
		want: rules.Verdict{Kind: rules.KindInsert, Losses: []rules.Loss{
			{Col: colA, Lost: rules.SideIncoming, LostClock: at(20, devA), Won: rules.SideDeleted, WonClock: at(30, devB)}}}},
	{rule: "a loss notice of a delete is recorded against the row the device holds", policies: allPolicies, by: onDevice,
		local: live(at(30, devB), seen(0)), in: noticeOf(3, at(20, devA)),
		want: rules.Verdict{Kind: rules.KindDelete, Losses: []rules.Loss{
			{Lost: rules.SideDeleted, LostClock: at(20, devA), Won: rules.SideLocal, WonClock: at(30, devB)}}}},
	{rule: "a loss notice of no known kind takes the kind its shape suggests", policies: allPolicies, by: onDevice,
		local: live(at(30, devB), seen(0)), in: noticeOf(9, at(20, devA), colA),
		want: rules.Verdict{Kind: rules.KindUpdate, Losses: []rules.Loss{
			{Col: colA, Lost: rules.SideIncoming, LostClock: at(20, devA), Won: rules.SideLocal, WonClock: at(30, devB)}}}},
}

// TestDecide checks the merge decision against every rule of the package
// doc, without a database: each case under each of its policies. HLC is
// left to TestDecideHLC.
func TestDecide(t *testing.T) {
	for _, tc := range decideCases {
		for _, p := range tc.policies {
			t.Run(fmt.Sprintf("%s/%s/%s", tc.rule, p, tc.by.Role), func(t *testing.T) {
				got := decide(tc.by, p, tc.local, tc.in)
				got.HLC = 0
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got  %+v\nwant %+v", got, tc.want)
				}
			})
		}
	}
}

func decide(by rules.Merger, p changelog.Policy, local rules.Local, in rules.Incoming) rules.Verdict {
	return rules.Decide(by, rules.Table{Policy: p, Cols: []int64{colA, colB}}, local, in)
}

// TestDecideHLC: a merge moves the node's clock past every clock a change
// carries, row and columns, whatever it decides: a change dropped whole, an
// insert a device keeps no clocks for, a whole row that loses. (Before, those
// left their column clocks out, and a later local write could order before
// a write this node had already merged, then lose to it in silence.)
func TestDecideHLC(t *testing.T) {
	later := func(in rules.Incoming) rules.Incoming {
		for i := range in.Cols {
			in.Cols[i].Clock.HLC += 100
		}
		return in
	}
	for _, tc := range []struct {
		name  string
		p     changelog.Policy
		by    rules.Merger
		local rules.Local
		in    rules.Incoming
		want  change.HLC
	}{
		{"a delete: its clock", changelog.LWWColumn, onHub, live(at(10, devB), arrived(3)), deleteRow(at(20, devA), 5), 20},
		{"an update: every column compared", changelog.LWWColumn, onHub, live(at(10, devB), arrived(3)), later(updateCol(colA, at(20, devA), 5)), 120},
		{"an older update: every column compared", changelog.LWWColumn, onHub, live(at(500, devB), arrived(3)), later(updateCol(colA, at(20, devA), 5)), 120},
		{"an insert the hub keeps clocks for: its columns", changelog.LWWColumn, onHub, absent, later(insertRow(at(20, devA), 5)), 120},
		{"an insert a device keeps no clocks for: its columns", changelog.LWWColumn, onDevice, absent, later(insertRow(at(20, devB), 5)), 120},
		{"an update of a row not here: its columns", changelog.LWWColumn, onHub, absent, later(updateCol(colA, at(20, devA), 5)), 120},
		{"an update lost to a delete: its columns recorded", changelog.LWWColumn, onHub, deleted(at(10, devB), arrived(8)), later(updateCol(colA, at(20, devA), 5)), 120},
		{"a whole row that loses without a conflict: its columns", changelog.LWWRow, onHub, live(at(500, devA), arrived(3)), later(updateRow(at(20, devA), 5)), 120},
		{"a whole row recorded as a conflict: its columns", changelog.LWWRow, onHub, live(at(500, devB), arrived(8)), later(updateRow(at(20, devA), 5)), 120},
		{"a notice: its columns", changelog.LWWColumn, onDevice, unclocked, later(noticeOf(1, at(20, devA), colA)), 120},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decide(tc.by, tc.p, tc.local, tc.in).HLC; got != tc.want {
				t.Errorf("got HLC %d, want %d", got, tc.want)
			}
		})
	}
}

// TestDecideOnlyStaleWhenBehind checks that no case refuses a response
// unless it was built before the device's last push: Stale follows from
// BeforePush alone, never from the row.
func TestDecideOnlyStaleWhenBehind(t *testing.T) {
	for _, tc := range decideCases {
		for _, p := range tc.policies {
			by := tc.by
			by.BeforePush = false
			if v := decide(by, p, tc.local, tc.in); v.Stale {
				t.Errorf("%s/%s/%s: stale without BeforePush", tc.rule, p, by.Role)
			}
		}
	}
}
