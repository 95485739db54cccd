package replicator

import (
	"context"
	"fmt"

	"github.com/deltasync/deltasync/changelog"
	"github.com/jmoiron/sqlx"
)

// absorb gives clocks to the local writes logged since the last absorb, in
// the order they were made, so that a write made after a merge orders after
// what it merged. It runs at the start of every push and merge transaction.
func absorb(ctx context.Context, tx querier, log *changelog.Log, s *store, tracked map[string]changelog.Tracked) error {
	var clocked int64
	if err := sqlx.GetContext(ctx, tx, &clocked, `SELECT value FROM _sync_state WHERE key = 'clocked'`); err != nil {
		return fmt.Errorf("read clocked version: %w", err)
	}
	b, err := log.ReadOpsTx(ctx, tx, clocked, 0)
	if err != nil {
		return err
	}
	if b.Through == clocked {
		return nil
	}
	// The writes had seen what the device had pulled from its hub by now:
	// a merge absorbs before it applies anything.
	pulled, err := Cursor(ctx, tx, hubPeer, "pulled")
	if err != nil {
		return err
	}
	st := stamp{seen: uint64(pulled)}
	for _, c := range b.Changes {
		t, ok := tracked[c.Table]
		if !ok {
			continue
		}
		if err := absorbChange(s, t, c, st); err != nil {
			return fmt.Errorf("clock local change to %s: %w", c.Table, err)
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE _sync_state SET value = ? WHERE key = 'clocked'`, b.Through)
	return err
}

func absorbChange(s *store, t changelog.Tracked, c changelog.Change, st stamp) error {
	key := changelog.KeyBytes(c.Key)
	clock := Clock{HLC: s.next(c.At), Site: s.self}
	// Under lww-row an update writes the whole row (changelog sends every
	// column), so one row clock says it all.
	if c.Op != changelog.OpUpdate || t.Policy == changelog.LWWRow {
		if err := s.setRow(t.ID, key, clock, c.Op == changelog.OpDelete, st); err != nil {
			return err
		}
		return s.dropCols(t.ID, key)
	}
	for _, name := range c.Columns {
		if err := s.setCol(t.ID, key, t.ColumnIDs[name], clock, st); err != nil {
			return err
		}
	}
	return nil
}
