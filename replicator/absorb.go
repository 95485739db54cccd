package replicator

import (
	"context"
	"fmt"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/changelog"
)

// absorb gives clocks to the local writes logged since the last absorb, up
// to version until (0: all of them), in the order they were made, so that a
// write made after a merge orders after what it merged. A merge absorbs
// every write before it merges anything; a push absorbs the writes of the
// batch it sends.
//
// Absorbing only a push's batch gives the same clocks as absorbing every
// write logged: a merge absorbs all the rest before it applies anything, so
// no merged clock and no pulled cursor comes between a write and its absorb
// that would not have come between them anyway. It sends the first batch
// of a large backlog without waiting for the whole backlog to get clocks.
func absorb(ctx context.Context, tx querier, log *changelog.Log, s *clockStore, tracked map[string]changelog.Tracked, until change.Version) error {
	var clocked change.Version
	if err := changelog.ReadState(ctx, tx, changelog.StateClocked, &clocked); err != nil {
		return fmt.Errorf("read clocked version: %w", err)
	}
	b, err := log.ReadOpsUntilTx(ctx, tx, clocked, until)
	if err != nil {
		return err
	}
	if b.Through <= clocked {
		return nil
	}
	// The writes had seen what the device had pulled from its hub by now:
	// a merge absorbs before it applies anything.
	cur, err := changelog.ReadCursors(ctx, tx, changelog.Hub)
	if err != nil {
		return err
	}
	st := Stamp{Seen: cur.Pulled}
	for _, c := range b.Changes {
		t, ok := tracked[c.Table]
		if !ok {
			continue
		}
		if err := absorbChange(s, t, c, st); err != nil {
			return fmt.Errorf("clock local change to %s: %w", c.Table, err)
		}
	}
	return changelog.SetState(ctx, tx, changelog.StateClocked, b.Through)
}

func absorbChange(s *clockStore, t changelog.Tracked, c changelog.Change, st Stamp) error {
	key := changelog.KeyBytes(c.Key)
	clock := change.Clock{HLC: s.next(c.At), Site: s.self}
	// Under lww-row an update writes the whole row (changelog sends every
	// column), so one row clock says it all.
	if c.Op != change.Update || t.Policy == changelog.LWWRow {
		dead := c.Op == change.Delete
		if err := s.setRow(t.ID, key, clock, dead, st); err != nil {
			return err
		}
		if err := s.dropCols(t.ID, key); err != nil {
			return err
		}
		// The row's clocks are now exactly these: a push that sends the
		// row next needs not read them back.
		s.remember(t.ID, key, RowClocks{Row: &clock, Dead: dead}, st)
		return nil
	}
	for _, name := range c.Columns {
		if err := s.setCol(t.ID, key, t.ColumnIDs[name], clock, st); err != nil {
			return err
		}
	}
	return nil
}
