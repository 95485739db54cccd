package changelog

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// NotApplying is an SQL condition that is true for every write except
// those of an apply (ApplyRemote): package triggers adds it to the WHEN
// clause of the app's own triggers, so that replay does not run them again.
// What they wrote on the origin arrives as changes of its own.
//
// It reads a table, not a function or a setting of the connection: a
// trigger stored in the database must work in every client of the file
// (a function registered in Go exists only in deltasync's connections, and
// a trigger cannot read a TEMP table). The table is empty except inside an
// apply's transaction, so another connection never sees its row, and the
// condition costs the app one read of an empty table's root page.
const NotApplying = `NOT EXISTS (SELECT 1 FROM _sync_applying)`

// markApplying makes NotApplying false inside tx (on) or true again (off).
// The row goes before tx commits, so it never outlives the transaction.
func markApplying(ctx context.Context, tx *sqlx.Tx, on bool) error {
	q := `DELETE FROM _sync_applying`
	if on {
		q = `INSERT INTO _sync_applying (one) VALUES (1)`
	}
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("mark the apply for the app's triggers: %w", err)
	}
	return nil
}
