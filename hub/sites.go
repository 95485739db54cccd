package hub

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"
)

// A device site belongs to the token that first pushed it, in the replica's
// _sync_hub_sites: a push for it with any other token is refused, so that
// a device pushes only as itself. Without tokens there is no one to bind
// to, and no binding.
//
// A site whose token is no longer in the token file (rotated or revoked)
// is free again: the next token allowed this database that pushes it takes
// it. Rotating a device's token therefore needs nothing but the new line.

// checkSite refuses, before the body is read, a push for a site another
// current token owns. It binds nothing: bindSite does, in the merge
// transaction, once the batch is known to be valid.
func (s *Server) checkSite(ctx context.Context, rep *Replica, site change.SiteID, token tokenKey) error {
	owner, err := siteOwner(ctx, rep.Node.DB, site)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("site binding: %w", err)
	}
	return s.ownerAllows(rep, site, owner, token)
}

// bindSite is the replicator.Admit of a push with token: inside the merge
// transaction it binds a free site to token, or refuses a site that another
// current token owns. Two tokens racing for a new site are serialized by
// the merge, so one wins and the other is refused.
func (s *Server) bindSite(rep *Replica, token tokenKey) func(context.Context, *sqlx.Tx, change.SiteID) error {
	return func(ctx context.Context, tx *sqlx.Tx, site change.SiteID) error {
		owner, err := siteOwner(ctx, tx, site)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO _sync_hub_sites (site, token) VALUES (?, ?)`, site[:], token[:])
		case err == nil && !bytes.Equal(owner, token[:]):
			if err := s.ownerAllows(rep, site, owner, token); err != nil {
				return err
			}
			s.Logger.Info("device site moves to a new token: its old token is no longer in the token file", "db", rep.Name, "site", fmt.Sprintf("%x", site[:]))
			_, err = tx.ExecContext(ctx, `UPDATE _sync_hub_sites SET token = ? WHERE site = ?`, token[:], site[:])
		}
		if err != nil {
			return fmt.Errorf("site binding: %w", err)
		}
		return nil
	}
}

// ownerAllows refuses token a site that owner, another token still in the
// token file, holds.
func (s *Server) ownerAllows(rep *Replica, site change.SiteID, owner []byte, token tokenKey) error {
	if bytes.Equal(owner, token[:]) || !s.Tokens.has(owner) {
		return nil
	}
	return fmt.Errorf("%w: device site %x first pushed to %q with another token; "+
		"a device pushes only as itself: give each device its own database file and token", ErrSiteTaken, site[:], rep.Name)
}

func siteOwner(ctx context.Context, q sqlx.QueryerContext, site change.SiteID) ([]byte, error) {
	var owner []byte
	err := q.QueryRowxContext(ctx, `SELECT token FROM _sync_hub_sites WHERE site = ?`, site[:]).Scan(&owner)
	return owner, err
}
