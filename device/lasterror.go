package device

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
)

// LastError returns the error of the device's last failed sync, and when it
// happened, or "" if the last sync succeeded: what `deltasync status` shows,
// so that a device whose changes the hub refuses (its clock runs ahead, its
// schema differs) says so where a user looks.
func LastError(ctx context.Context, q sqlx.QueryerContext) (string, time.Time, error) {
	var msg string
	var at int64
	ok, err := changelog.GetState(ctx, q, changelog.StateLastError, &msg)
	if err != nil || !ok {
		return "", time.Time{}, err
	}
	if _, err := changelog.GetState(ctx, q, changelog.StateLastErrorAt, &at); err != nil {
		return "", time.Time{}, err
	}
	return msg, time.UnixMilli(at).UTC(), nil
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
	if err := s.keepOutcome(ctx, syncErr); err != nil {
		s.Node.Logger.Warn("could not record the sync's outcome", "err", err)
		return
	}
	s.failed = syncErr != nil
}

// keepOutcome records syncErr, or clears the record of the last failure.
func (s *Syncer) keepOutcome(ctx context.Context, syncErr error) error {
	if syncErr == nil {
		return changelog.DeleteState(ctx, s.Node.DB, changelog.StateLastError, changelog.StateLastErrorAt)
	}
	tx, err := s.Node.DB.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if err := changelog.SetState(ctx, tx, changelog.StateLastError, syncErr.Error()); err != nil {
		return err
	}
	if err := changelog.SetState(ctx, tx, changelog.StateLastErrorAt, s.Node.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}
