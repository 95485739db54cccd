package replicator

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/replicator/rules"

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
	st := rules.Stamp{Seen: cur.Pulled}
	hlcs := clockWrites(s, b.Changes)
	for i, c := range b.Changes {
		t, ok := tracked[c.Table]
		if !ok {
			continue
		}
		if err := absorbChange(s, t, c, hlcs[i], st); err != nil {
			return fmt.Errorf("clock local change to %s: %w", c.Table, err)
		}
	}
	return changelog.SetState(ctx, tx, changelog.StateClocked, b.Through)
}

// clockWrites gives every write the changes coalesce (Change.Writes) its
// HLC, in the order the writes were made, so that each column's clock is
// that of its own last write, not of the row's: a column written before
// another device's write of it loses to that write, whatever this device
// wrote to the row's other columns later. Writes of one row made at the
// same time (one statement's) share one HLC, so that a row whose columns
// were written together keeps one clock.
func clockWrites(s *clockStore, cs []changelog.Change) [][]change.HLC {
	type ref struct{ c, w int }
	var order []ref
	out := make([][]change.HLC, len(cs))
	for i, c := range cs {
		out[i] = make([]change.HLC, len(c.Writes))
		for j := range c.Writes {
			order = append(order, ref{i, j})
		}
	}
	slices.SortStableFunc(order, func(a, b ref) int {
		return cmp.Compare(cs[a.c].Writes[a.w].Version, cs[b.c].Writes[b.w].Version)
	})
	last := make([]int, len(cs)) // per change, 1 + the write clocked last
	for _, r := range order {
		w := cs[r.c].Writes[r.w]
		if p := last[r.c] - 1; p >= 0 && cs[r.c].Writes[p].At.Equal(w.At) {
			out[r.c][r.w] = out[r.c][p]
		} else {
			out[r.c][r.w] = s.next(w.At)
		}
		last[r.c] = r.w + 1
	}
	return out
}

// absorbChange stores the clocks of one row's writes: the row's register
// and every column it wrote take the insert's (or delete's) clock, and a
// column updated after it, or by an update alone, its own.
func absorbChange(s *clockStore, t changelog.Tracked, c changelog.Change, hlcs []change.HLC, st rules.Stamp) error {
	key := changelog.KeyBytes(c.Key)
	if len(hlcs) == 0 {
		return nil // writes to columns no longer tracked
	}
	// Under lww-row an update writes the whole row (changelog sends every
	// column), so one row clock, its last write's, says it all.
	if t.Policy == changelog.LWWRow {
		return setRowClock(s, t, key, change.Clock{HLC: slices.Max(hlcs), Site: s.self}, c.Op == change.Delete, st, nil)
	}
	var cols map[int64]change.Clock
	for i, w := range c.Writes {
		if w.Column == "" || (c.Op != change.Update && hlcs[i] == hlcs[0]) {
			continue
		}
		if cols == nil {
			cols = map[int64]change.Clock{}
		}
		cols[t.ColumnIDs[w.Column]] = change.Clock{HLC: hlcs[i], Site: s.self}
	}
	if c.Op != change.Update {
		return setRowClock(s, t, key, change.Clock{HLC: hlcs[0], Site: s.self}, c.Op == change.Delete, st, cols)
	}
	for id, clock := range cols {
		if err := s.setCol(t.ID, key, id, clock, st); err != nil {
			return err
		}
	}
	return nil
}

// setRowClock makes clock the row's register and its columns' clock, but
// for cols, which keep their own.
func setRowClock(s *clockStore, t changelog.Tracked, key []byte, clock change.Clock, dead bool, st rules.Stamp, cols map[int64]change.Clock) error {
	if err := s.setRow(t.ID, key, clock, dead, st); err != nil {
		return err
	}
	if err := s.dropCols(t.ID, key); err != nil {
		return err
	}
	for id, cc := range cols {
		if err := s.setCol(t.ID, key, id, cc, st); err != nil {
			return err
		}
	}
	// The row's clocks are now exactly these: a push that sends the row
	// next needs not read them back.
	s.remember(t.ID, key, rules.RowClocks{Row: &clock, Dead: dead, Cols: cols}, st)
	return nil
}
