package replicator

import (
	"context"
	"fmt"
	"time"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
)

// RowTooLargeError is a local row a device holds back because it is larger
// than one batch may carry: it is not pushed, later writes keep syncing,
// and it is sent, whole, once it is written again and fits (see the
// package doc). HeldRows lists them; it unwraps to ErrRowTooLarge.
type RowTooLargeError struct {
	Table string    `json:"table"`
	Key   string    `json:"key"`   // the key as SQL literals: (1), ('a', x'00ff')
	Size  int64     `json:"bytes"` // what the row counts toward a batch's bytes (changelog.Change.Size)
	Limit int64     `json:"limit"` // the limit it passed: Node.MaxRowBytes, or 0 when the hub refused it (413)
	At    time.Time `json:"at"`    // when it was held back
}

func (e *RowTooLargeError) Error() string {
	limit := fmt.Sprintf("the limit of %d bytes", e.Limit)
	if e.Limit == 0 {
		limit = "what the hub accepts in one request"
	}
	return fmt.Sprintf("%v: row %s of %q is %d bytes, over %s; it is held back and later writes keep syncing: "+
		"write it again smaller (or raise the limit, then write it again) to send it", ErrRowTooLarge, e.Key, e.Table, e.Size, limit)
}

func (e *RowTooLargeError) Unwrap() error { return ErrRowTooLarge }

// heldRow is a row to hold back, with its key's bytes and the op of its change.
type heldRow struct {
	RowTooLargeError
	key []byte
	op  change.Op
}

func newHeldRow(c changelog.Change, limit int64, at time.Time) *heldRow {
	return &heldRow{
		RowTooLargeError: RowTooLargeError{Table: c.Table, Key: change.KeyLiteral(c.Key), Size: c.Size, Limit: limit, At: at},
		key:              changelog.KeyBytes(c.Key), op: c.Op,
	}
}

// setAside splits a read's changes into those to send and the rows too
// large to, which are held back.
func (n *Node) setAside(cs []changelog.Change) (send []changelog.Change, held []*heldRow) {
	send = cs
	for i, c := range cs {
		if !c.TooLarge {
			if held != nil {
				send = append(send, c)
			}
			continue
		}
		if held == nil {
			send = append([]changelog.Change(nil), cs[:i]...)
		}
		held = append(held, newHeldRow(c, n.maxRowBytes(), n.Now()))
	}
	return send, held
}

// logHeld says, once per row held back, that it is.
func (n *Node) logHeld(held []*heldRow) {
	for _, h := range held {
		n.Logger.Warn("row held back: too large to sync", "table", h.Table, "key", h.Key, "bytes", h.Size, "limit", h.Limit)
	}
}

// heldTableExists: a database deltasync was installed on before it kept
// held rows has no _sync_held until `deltasync init` runs again.
func heldTableExists(ctx context.Context, q sqlx.QueryerContext) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '_sync_held'`)
	if err != nil {
		return false, fmt.Errorf("look for held rows: %w", err)
	}
	return n > 0, nil
}

// heldOps returns the rows held back with the op of their held change, for
// changelog.ReadOptions.Whole, or nil if there are none.
func heldOps(ctx context.Context, q sqlx.QueryerContext) (map[changelog.RowRef]change.Op, error) {
	if ok, err := heldTableExists(ctx, q); err != nil || !ok {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT tbl, rowkey, op FROM _sync_held`)
	if err != nil {
		return nil, fmt.Errorf("read held rows: %w", err)
	}
	defer rows.Close()
	var out map[changelog.RowRef]change.Op
	for rows.Next() {
		var r changelog.RowRef
		var key []byte
		var op change.Op
		if err := rows.Scan(&r.Table, &key, &op); err != nil {
			return nil, err
		}
		if out == nil {
			out = map[changelog.RowRef]change.Op{}
		}
		r.Key = string(key)
		out[r] = op
	}
	return out, rows.Err()
}

// updateHeld records the rows held back and, if some were held before
// (anyHeld), releases those the batch sends. A held insert stays an insert
// when the row is held again.
func updateHeld(ctx context.Context, tx *sqlx.Tx, held []*heldRow, sent []changelog.Change, anyHeld bool) error {
	if anyHeld {
		for _, c := range sent {
			if _, err := tx.ExecContext(ctx, `DELETE FROM _sync_held WHERE tbl = ? AND rowkey = ?`, c.Table, changelog.KeyBytes(c.Key)); err != nil {
				return fmt.Errorf("release held row: %w", err)
			}
		}
	}
	for _, h := range held {
		if err := hold(ctx, tx, h); err != nil {
			return err
		}
	}
	return nil
}

// hold records one row held back.
func hold(ctx context.Context, e sqlx.ExecerContext, h *heldRow) error {
	_, err := e.ExecContext(ctx, `INSERT INTO _sync_held (tbl, rowkey, key_text, op, size, max, at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tbl, rowkey) DO UPDATE SET key_text = excluded.key_text, size = excluded.size, max = excluded.max, at = excluded.at,
			op = iif(op = 1, 1, excluded.op)`,
		h.Table, h.key, h.Key, int(h.op), h.Size, h.Limit, h.At.UnixMilli())
	if err != nil {
		return fmt.Errorf("hold back row %s of %q: %w (run `deltasync init` on the database again to upgrade it)", h.Key, h.Table, err)
	}
	return nil
}

// HoldBack holds back the one row of o, a batch the hub refused as too
// large, and reports whether it did: a batch of several rows is not held,
// the caller sends it again in smaller batches.
func (n *Node) HoldBack(ctx context.Context, o OutBatch) (bool, error) {
	if o.only == nil {
		return false, nil
	}
	n.logHeld([]*heldRow{o.only})
	return true, hold(ctx, n.DB, o.only)
}

// HeldRows lists the rows this device holds back because they are too
// large to sync, oldest first; none on a database that never held one.
func HeldRows(ctx context.Context, q sqlx.QueryerContext) ([]*RowTooLargeError, error) {
	if ok, err := heldTableExists(ctx, q); err != nil || !ok {
		return nil, err
	}
	var rows []struct {
		Table string `db:"tbl"`
		Key   string `db:"key_text"`
		Size  int64  `db:"size"`
		Limit int64  `db:"max"`
		At    int64  `db:"at"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT tbl, key_text, size, max, at FROM _sync_held ORDER BY at, tbl, rowkey`); err != nil {
		return nil, fmt.Errorf("read held rows: %w", err)
	}
	out := make([]*RowTooLargeError, len(rows))
	for i, r := range rows {
		out[i] = &RowTooLargeError{Table: r.Table, Key: r.Key, Size: r.Size, Limit: r.Limit, At: time.UnixMilli(r.At).UTC()}
	}
	return out, nil
}
