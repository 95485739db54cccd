package device

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// LastError returns the error of the device's last failed sync, and when it
// happened, or "" if the last sync succeeded: what `deltasync status` shows,
// so that a device whose changes the hub refuses (its clock runs ahead, its
// schema differs) says so where a user looks.
func LastError(ctx context.Context, q sqlx.QueryerContext) (string, time.Time, error) {
	var v struct {
		Msg string `db:"msg"`
		At  int64  `db:"at"`
	}
	err := sqlx.GetContext(ctx, q, &v, `SELECT
		(SELECT value FROM _sync_state WHERE key = 'last_error') AS msg,
		(SELECT value FROM _sync_state WHERE key = 'last_error_at') AS at
		WHERE EXISTS (SELECT 1 FROM _sync_state WHERE key = 'last_error')`)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	return v.Msg, time.UnixMilli(v.At).UTC(), err
}

// record keeps the outcome of a sync for LastError. A failure to record is
// only logged: the sync's own error is the one to report.
func (s *Syncer) record(ctx context.Context, syncErr error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil || (syncErr == nil && !s.failed) {
		return
	}
	ctx = context.WithoutCancel(ctx)
	var err error
	if syncErr == nil {
		_, err = s.Node.DB.ExecContext(ctx, `DELETE FROM _sync_state WHERE key IN ('last_error', 'last_error_at')`)
	} else {
		_, err = s.Node.DB.ExecContext(ctx, `INSERT INTO _sync_state (key, value) VALUES ('last_error', ?), ('last_error_at', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, syncErr.Error(), s.Node.Now().UnixMilli())
	}
	if err != nil {
		s.Node.Logger.Warn("could not record the sync's outcome", "err", err)
		return
	}
	s.failed = syncErr != nil
}
