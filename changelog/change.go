package changelog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/deltasync/deltasync/change"
)

// Change is every write to one row within a range of versions, coalesced.
type Change struct {
	Version change.Version // the last version coalesced into this change
	Table   string         // table name
	Op      change.Op      // insert, update or delete
	Key     []any          // key values in key order
	Columns []string       // insert: every writable column; update: the changed ones; delete: none
	Values  []any          // values of Columns, as the row holds them now
	At      time.Time      // write time of the last write, millisecond precision
	// Size is what the change counts toward ReadOptions.MaxBytes: its
	// TEXT and BLOB bytes, key included, plus ChangeOverhead and
	// ValueOverhead per value. 0 from a read without values.
	Size int64
	// TooLarge: Size is over ReadOptions.MaxRowBytes, and Values were not
	// read (Columns names what the change would carry).
	TooLarge bool
	// Writes are the writes coalesced into the change that its values
	// still show, in the order they were made: the row's insert or delete
	// (Column ""), then the last update of each column written after it.
	// Each column's value is as new as its own write, not the change's
	// last: a clock must say so (replicator's absorb). Only a read without
	// values (ReadOpsTx) fills it.
	Writes []Write
}

// Write is one write to a row, as the changelog logged it.
type Write struct {
	Column  string         // "" for the insert or delete of the row
	Version change.Version // the version it was logged at
	At      time.Time      // when it was made, millisecond precision
}

// Batch is the coalesced local changes in the versions (Since, Through].
type Batch struct {
	Since, Through change.Version
	Changes        []Change
	More           bool // a bound stopped the read before the newest version
}

// JulianTime converts a Julian day number, as julianday('now') writes it,
// to a time with millisecond precision.
func JulianTime(jd float64) time.Time {
	ms := math.Round((jd - 2440587.5) * 86400000)
	return time.UnixMilli(int64(ms)).UTC()
}

// SameValue reports whether a and b are the same SQLite value: the same
// storage class and bytes, REALs bit for bit. Values are those the driver
// returns (nil, int64, float64, string, []byte).
func SameValue(a, b any) bool {
	return bytes.Equal(appendKey(nil, []any{a}), appendKey(nil, []any{b}))
}

// appendKey appends to b an encoding of key values that distinguishes
// storage classes and keeps every byte: a map key for a row (KeyBytes).
func appendKey(b []byte, vals []any) []byte {
	for _, v := range vals {
		switch v := v.(type) {
		case nil:
			b = append(b, 'n')
		case int64:
			b = binary.BigEndian.AppendUint64(append(b, 'i'), uint64(v))
		case float64:
			b = binary.BigEndian.AppendUint64(append(b, 'f'), math.Float64bits(v))
		case string:
			b = binary.AppendUvarint(append(b, 't'), uint64(len(v)))
			b = append(b, v...)
		case []byte:
			b = binary.AppendUvarint(append(b, 'b'), uint64(len(v)))
			b = append(b, v...)
		default:
			panic(fmt.Sprintf("changelog: unexpected key value type %T", v))
		}
	}
	return b
}
