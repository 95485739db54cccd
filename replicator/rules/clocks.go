package rules

import "github.com/deltasync/deltasync/change"

// RowClocks is what _sync_clock holds for one row: the clocks a merge
// decides by.
type RowClocks struct {
	Row  *change.Clock // the row's register; nil: the row was never written since install
	Dead bool          // the register says deleted
	// Cols are the clocks of the columns whose last write came after the
	// register's, by column id; the others have the register's.
	Cols map[int64]change.Clock
	// Stamps of the clocks that have any, by column id (0: the register)
	Stamps map[int64]Stamp
}

// Stamp places a clock in the hub's order of changes (see the 0003
// migration): Seen, on a device, is the hub version the device had pulled
// when it wrote; Arrived, on the hub, the hub version at which the value
// arrived. Zero is unknown, stored as NULL.
type Stamp struct{ Seen, Arrived change.Version }

// StampOf returns the stamp of a column's clock, which is the row's when the
// column has no clock of its own.
func (r RowClocks) StampOf(id int64) Stamp {
	if _, ok := r.Cols[id]; ok {
		return r.Stamps[id]
	}
	return r.Stamps[0]
}

// Column returns the clock of a column's value: its own, else the row's,
// else the zero clock of a value never written since install.
func (r RowClocks) Column(id int64) (change.Clock, bool) {
	if c, ok := r.Cols[id]; ok {
		return c, true
	}
	if r.Row != nil {
		return *r.Row, true
	}
	return change.Clock{}, false
}
