package codec

import "fmt"

// Op is what a change did to its row.
type Op uint8

const (
	OpInsert Op = 1
	OpUpdate Op = 2
	OpDelete Op = 3
)

// String returns the op's name, for errors and logs.
func (o Op) String() string {
	switch o {
	case OpInsert:
		return "insert"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

func (o Op) valid() bool { return o >= OpInsert && o <= OpDelete }

// SiteID names the node that first wrote a change: 16 random bytes made at
// install.
type SiteID [16]byte

// Clock is a hybrid logical clock value with the site that wrote it.
type Clock struct {
	HLC  uint64
	Site int // index into Batch.Sites
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
// order; a delete has none. Values and Clocks have one entry per column:
// the column's new value and the clock of its last write.
type Change struct {
	Table   int   // index into Batch.Tables
	Op      Op    //
	Key     []any // the row's key values, 1 to MaxKey of them
	Clock   Clock // the row's clock (existence register), set for every op
	Columns []int
	Values  []any
	Clocks  []Clock
}

// Batch is a contiguous range of one node's changelog.
type Batch struct {
	Fingerprint [32]byte // schema fingerprint of the sender
	Origin      SiteID   // the node that built the batch
	First, Last uint64   // the batch covers the sender's versions (First, Last]
	Sites       []SiteID // the sites clocks refer to
	Tables      []Table
	Changes     []Change
}
