package hub

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/deltasync/deltasync/codec"
)

// bindSite checks that the device site a push is for belongs to the token
// that pushes it: the first token to push a site owns it, in the replica's
// _sync_hub_sites, and a push for it with any other token is refused.
// Without tokens there is no one to bind to, and no binding.
func bindSite(ctx context.Context, rep *Replica, site codec.SiteID, token tokenKey) error {
	owner, err := siteOwner(ctx, rep, site)
	if errors.Is(err, sql.ErrNoRows) {
		// INSERT OR IGNORE, then read again: of two tokens racing for a new
		// site, one wins and the other is refused.
		_, err = rep.Node.DB.ExecContext(ctx, `INSERT OR IGNORE INTO _sync_hub_sites (site, token) VALUES (?, ?)`, site[:], token[:])
		if err == nil {
			owner, err = siteOwner(ctx, rep, site)
		}
	}
	if err != nil {
		return fmt.Errorf("site binding: %w", err)
	}
	if !bytes.Equal(owner, token[:]) {
		return fmt.Errorf("%w: device site %x first pushed to %q with another token; "+
			"a device pushes only as itself: give each device its own database file and token", ErrSiteTaken, site[:], rep.Name)
	}
	return nil
}

func siteOwner(ctx context.Context, rep *Replica, site codec.SiteID) ([]byte, error) {
	var owner []byte
	err := rep.Node.DB.QueryRowContext(ctx, `SELECT token FROM _sync_hub_sites WHERE site = ?`, site[:]).Scan(&owner)
	return owner, err
}
