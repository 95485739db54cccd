package codec

import "github.com/deltasync/deltasync/change"

// validOp reports whether o is an op a batch may carry.
func validOp(o change.Op) bool { return o >= change.Insert && o <= change.Lost }

// Clock is a hybrid logical clock value with the site that wrote it.
//
// Seen is, for a write a device made itself, the hub version the device had
// pulled when it wrote, so that the hub can tell whether the writer had seen
// the value it replaced. It is 0 when not known or not applicable, as in
// everything a hub serves.
type Clock struct {
	HLC  change.HLC
	Site int // index into Batch.Sites
	Seen change.Version
}

// Table names a table and the columns that changes in the batch refer to by
// index. It need not list every column of the table, only those used.
type Table struct {
	Name    string
	Columns []string
}

// MaxKey is the most key values a change may have.
const MaxKey = 4

// Change is one row-level event.
//
// Columns are indexes into Tables[Table].Columns in strictly increasing
// order; a delete has none, a lost notice may have none. Values and Clocks
// have one entry per column: the column's new value and the clock of its
// last write (for change.Lost, the losing value and its clock). The row's Clock
// is set for every op; for change.Lost it is the losing write's row clock.
type Change struct {
	Table   int       // index into Batch.Tables
	Op      change.Op //
	Key     []any     // the row's key values, 1 to MaxKey of them
	Clock   Clock     // the row's clock (existence register)
	Columns []int
	Values  []any
	Clocks  []Clock
}

// Batch is a contiguous range of one node's changelog.
type Batch struct {
	Fingerprint [32]byte       // schema fingerprint of the sender
	Origin      change.SiteID  // the node that built the batch
	First, Last change.Version // the batch covers the sender's versions (First, Last]
	// Head is the sender's last version when it built the batch, at least
	// Last, or 0 if the sender does not say. A hub gives it, so that a
	// device can tell a response built before its last push landed.
	Head    change.Version
	Sites   []change.SiteID // the sites clocks refer to
	Tables  []Table
	Changes []Change
}
