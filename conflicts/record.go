package conflicts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/schema"
)

// Entry is one lost value as Record writes it: a Column of a conflict
// event, and what places it.
type Entry struct {
	// Event is the event the value belongs to: 0 for an event's first
	// value, then the id Record returned for that one.
	Event int64
	Table string
	Key   []any
	Kind  string // update, insert, delete, deleted, unique or orphan
	Column
	// Version is, on the hub, the version at which the merge that lost the
	// value arrives: the site whose write lost is told on its first pull
	// past it (Notices). 0 on a device, which tells no one.
	Version change.Version
}

// Record writes e in tx, the merge's transaction, and returns its id; an
// event's first value becomes the event's id. It returns 0, and writes
// nothing, for a loss recorded before (the same column, key and losing
// clock): a batch merged again, or repeated by the hub, records nothing
// new.
func Record(ctx context.Context, tx sqlx.ExtContext, e Entry) (int64, error) {
	ks := make([]any, 4)
	copy(ks, e.Key)
	var col any
	if e.Column.Column != "" {
		col = e.Column.Column
	}
	var id int64
	err := sqlx.GetContext(ctx, tx, &id, `INSERT INTO _sync_conflicts
		(event, tbl, rowkey, k0, k1, k2, k3, kind, col, lost, won, lost_hlc, lost_site, won_hlc, won_site, lost_dead, won_dead, ver)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING RETURNING id`,
		e.Event, e.Table, changelog.KeyBytes(e.Key), ks[0], ks[1], ks[2], ks[3], e.Kind, col, e.Lost, e.Won,
		e.LostClock.HLC, e.LostClock.Site[:], e.WonClock.HLC, e.WonClock.Site[:], e.LostDeleted, e.WonDeleted, e.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // recorded before
	}
	if err != nil {
		return 0, err
	}
	if e.Event == 0 {
		_, err = tx.ExecContext(ctx, `UPDATE _sync_conflicts SET event = id WHERE id = ?`, id)
	}
	return id, err
}

// Notice is one lost value of a site's write, which its hub tells it of in
// a loss notice (change.Lost).
type Notice struct {
	Event   int64
	Table   string
	Key     [schema.MaxKeyColumns]any // as stored: the key's values, then NULLs
	Kind    string
	Column  string     // "" for the row's existence
	Value   any        // the value that lost
	HLC     change.HLC // the lost write's
	Deleted bool       // the lost write deleted the row
	// Won is the side that won: a notice of kind unique carries it, as
	// the device that wrote the losing row must take it (it holds its own
	// write, which reached no other node).
	Won        any
	WonClock   change.Clock
	WonDeleted bool
}

// Notices returns the values of site's writes that lost here in versions
// (after, through], the range of a batch the hub serves the site, in the
// order they were recorded, an event's values together.
func Notices(ctx context.Context, q sqlx.QueryerContext, site change.SiteID, after, through change.Version) ([]Notice, error) {
	rows, err := q.QueryxContext(ctx, `SELECT event, tbl, k0, k1, k2, k3, kind, col, lost, lost_hlc, lost_dead,
			won, won_hlc, won_site, won_dead
		FROM _sync_conflicts WHERE lost_site = ? AND ver > ? AND ver <= ? ORDER BY event, id`,
		site[:], after, through)
	if err != nil {
		return nil, fmt.Errorf("read conflicts to report: %w", err)
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		var n Notice
		var col *string
		var wonSite []byte
		if err := rows.Scan(&n.Event, &n.Table, &n.Key[0], &n.Key[1], &n.Key[2], &n.Key[3], &n.Kind, &col, &n.Value, &n.HLC, &n.Deleted,
			&n.Won, &n.WonClock.HLC, &wonSite, &n.WonDeleted); err != nil {
			return nil, err
		}
		copy(n.WonClock.Site[:], wonSite)
		if col != nil {
			n.Column = *col
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
