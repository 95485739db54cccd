package replicator

import (
	"bytes"
	"fmt"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/schema"
)

// The checks of this file run before a merge writes anything, so that a
// batch that breaks a rule every honest sender keeps is refused whole, with
// ErrInvalidBatch and what was wrong, and changes nothing. A sender must not
// retry such a batch: it would be refused again.

// checkPush checks that a device's push speaks only for the device: every
// clock names the frame's origin, which is not the receiving hub itself, and
// no change is a loss notice, which only a hub sends. Which device may push
// as which origin is the hub's business (it binds a site to a token); this
// check makes a frame unable to carry anyone else's writes under it.
func checkPush(b *codec.Batch, self change.SiteID) error {
	if b.Origin == self {
		return fmt.Errorf("%w: the push names this hub's own site %x as its origin", ErrInvalidBatch, b.Origin[:])
	}
	for i, c := range b.Changes {
		if c.Op == change.Lost {
			return fmt.Errorf("%w: change %d is a loss notice, which only a hub sends (%w)", ErrInvalidBatch, i, ErrNotice)
		}
		if err := ownClock(b, c.Clock); err != nil {
			return fmt.Errorf("%w: change %d: row clock %w", ErrInvalidBatch, i, err)
		}
		for j, cc := range c.Clocks {
			if err := ownClock(b, cc); err != nil {
				return fmt.Errorf("%w: change %d: clock of column %d %w", ErrInvalidBatch, i, j, err)
			}
		}
	}
	return nil
}

func ownClock(b *codec.Batch, c codec.Clock) error {
	if site := b.Sites[c.Site]; site != b.Origin {
		return fmt.Errorf("names site %x, not the pushing site %x: a device pushes only its own writes", site[:], b.Origin[:])
	}
	return nil
}

// checkChanges checks every change's key against its table's key, and that
// a write of a whole row carries the whole row. A key that does not fit
// would name no row, or a fresh one on every replay (an integer key given as
// '42', 43.0 or NULL makes SQLite pick a new rowid); a whole-row write with
// fewer columns would leave the others to this node's defaults, and is the
// one kind of write whose statement has a shape per column set.
func checkChanges(b *codec.Batch, targets []*target) error {
	for i, c := range b.Changes {
		t := targets[c.Table]
		if err := checkKey(t, c); err != nil {
			return fmt.Errorf("%w: change %d (%s %q): %w", ErrInvalidBatch, i, c.Op, t.Table.Name, err)
		}
		if err := checkWhole(t, c); err != nil {
			return fmt.Errorf("%w: change %d (%s %q): %w", ErrInvalidBatch, i, c.Op, t.Table.Name, err)
		}
	}
	return nil
}

// checkKey: as many values as the table has key columns, none NULL (a row
// with a NULL key is never synced), an integer for a rowid, and a key column
// the change writes holds the key's own value (a write never moves a row:
// a key change travels as a delete and an insert).
func checkKey(t *target, c codec.Change) error {
	if len(c.Key) != len(t.Table.Key) {
		return fmt.Errorf("key of %d values, the table's key (%s) has %d", len(c.Key), keyNames(t.Table), len(t.Table.Key))
	}
	for i, v := range c.Key {
		if v == nil {
			return fmt.Errorf("key column %q is NULL", t.Table.Key[i])
		}
	}
	if rowidKey(t.Table) {
		if _, ok := c.Key[0].(int64); !ok {
			return fmt.Errorf("key column %q is a rowid and takes an INTEGER, got %s %s", t.Table.Key[0], storageClass(c.Key[0]), change.KeyLiteral(c.Key))
		}
	}
	for j, ci := range c.Columns {
		if k := t.cols[ci].KeyIndex - 1; k >= 0 && !sameValue(c.Values[j], c.Key[k]) {
			return fmt.Errorf("column %q of the key is written with another value than the key %s", t.cols[ci].Name, change.KeyLiteral(c.Key))
		}
	}
	return nil
}

// checkWhole: an insert, and an update under lww-row, carry every column
// this node's table can write, as every sender's changelog reads them.
func checkWhole(t *target, c codec.Change) error {
	if c.Op != change.Insert && (c.Op != change.Update || t.Policy != changelog.LWWRow) {
		return nil
	}
	if want := len(t.Table.Writable()); len(c.Columns) != want {
		return fmt.Errorf("writes %d columns, a whole-row write carries all %d", len(c.Columns), want)
	}
	return nil
}

// rowidKey reports whether t's key is the rowid, under its own name or an
// INTEGER PRIMARY KEY column's.
func rowidKey(t schema.Table) bool {
	return t.KeyKind == schema.KeyRowid || t.KeyKind == schema.KeyRowidAlias
}

func keyNames(t schema.Table) string {
	out := ""
	for i, k := range t.Key {
		if i > 0 {
			out += ", "
		}
		out += schema.Ident(k)
	}
	return out
}

func storageClass(v any) string {
	switch v.(type) {
	case nil:
		return "NULL"
	case int64:
		return "INTEGER"
	case float64:
		return "REAL"
	case string:
		return "TEXT"
	}
	return "BLOB"
}

// sameValue reports whether a and b are one value of one storage class.
func sameValue(a, b any) bool {
	return bytes.Equal(changelog.KeyBytes([]any{a}), changelog.KeyBytes([]any{b}))
}
