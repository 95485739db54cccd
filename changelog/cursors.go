package changelog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"
)

// Peer names a node a node syncs with, in _sync_peers.
type Peer string

// Hub is a device's hub: the only peer a device syncs with.
const Hub Peer = "hub"

// Cursors are where a node stands with one peer.
type Cursors struct {
	Pushed change.Version // this node's last version the peer acknowledged
	Pulled change.Version // the peer's last version this node merged
	Acked  change.Version // the peer's version after the last push it acknowledged
}

// ReadCursors returns p's cursors, zero if never set.
func ReadCursors(ctx context.Context, q sqlx.QueryerContext, p Peer) (Cursors, error) {
	var c Cursors
	err := q.QueryRowxContext(ctx, `SELECT pushed, pulled, acked FROM _sync_peers WHERE peer = ?`, p).Scan(&c.Pushed, &c.Pulled, &c.Acked)
	if errors.Is(err, sql.ErrNoRows) {
		return Cursors{}, nil
	}
	if err != nil {
		return Cursors{}, fmt.Errorf("read cursors of %s: %w", p, err)
	}
	return c, nil
}

// SetPulled sets the peer's last version this node merged.
func SetPulled(ctx context.Context, e sqlx.ExecerContext, p Peer, v change.Version) error {
	_, err := e.ExecContext(ctx, `INSERT INTO _sync_peers (peer, pulled) VALUES (?, ?)
		ON CONFLICT (peer) DO UPDATE SET pulled = excluded.pulled`, p, v)
	if err != nil {
		return fmt.Errorf("set pulled cursor of %s: %w", p, err)
	}
	return nil
}

// SetPushed moves the pushed cursor to through and, with it, the peer's
// version that acknowledged it, which only grows (0: unchanged).
func SetPushed(ctx context.Context, e sqlx.ExecerContext, p Peer, through, acked change.Version) error {
	_, err := e.ExecContext(ctx, `INSERT INTO _sync_peers (peer, pushed, acked) VALUES (?, ?, ?)
		ON CONFLICT (peer) DO UPDATE SET pushed = excluded.pushed, acked = max(acked, excluded.acked)`,
		p, through, acked)
	if err != nil {
		return fmt.Errorf("set pushed cursor of %s: %w", p, err)
	}
	return nil
}

// Unpushed reports whether the changelog goes past p's pushed cursor: a
// cheap check a sidecar makes after every commit it notices.
func Unpushed(ctx context.Context, q sqlx.QueryerContext, p Peer) (bool, error) {
	var more bool
	err := q.QueryRowxContext(ctx, `SELECT (SELECT coalesce(max(version), 0) FROM _sync_changelog) >
		coalesce((SELECT pushed FROM _sync_peers WHERE peer = ?), 0)`, p).Scan(&more)
	return more, err
}
