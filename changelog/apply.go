package changelog

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// ApplyRemote runs fn in one write transaction and marks everything the
// triggers log meanwhile as written by origin, so that Read never returns it
// as a local change. If fn returns an error, the transaction is rolled back
// and nothing of it remains.
//
// SQLite has one writer at a time, so no app write can interleave with fn:
// the versions logged between the start and the end of the transaction are
// exactly fn's writes and what the app's own triggers derived from them.
func (l *Log) ApplyRemote(ctx context.Context, origin SiteID, fn func(tx *sqlx.Tx) error) (err error) {
	tx, err := l.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin apply: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback() //nolint:errcheck // the error that made us roll back is the one to report
		}
	}()
	var before, after int64
	if err := tx.GetContext(ctx, &before, `SELECT coalesce(max(version), 0) FROM _sync_changelog`); err != nil {
		return l.explain(ctx, fmt.Errorf("begin apply: %w", err))
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.GetContext(ctx, &after, `SELECT coalesce(max(version), 0) FROM _sync_changelog`); err != nil {
		return fmt.Errorf("end apply: %w", err)
	}
	if after > before {
		_, err := tx.ExecContext(ctx, `INSERT INTO _sync_applied (first, last, origin) VALUES (?, ?, ?)`,
			before+1, after, origin[:])
		if err != nil {
			return fmt.Errorf("record applied versions: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit apply: %w", err)
	}
	return nil
}
