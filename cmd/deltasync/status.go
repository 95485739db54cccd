package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/conflicts"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/internal/sqlitefile"
	"github.com/deltasync/deltasync/replicator"
)

// StatusCommand prints the node's state.
type StatusCommand struct{ m *Main }

type status struct {
	SiteID         string                         `json:"site_id"`
	TrackedTables  []string                       `json:"tracked_tables"`
	PendingChanges int64                          `json:"pending_changes"`
	LastVersion    change.Version                 `json:"last_version"`
	Conflicts      int64                          `json:"unresolved_conflicts"`
	LastSyncError  string                         `json:"last_sync_error,omitempty"`
	LastSyncErrAt  string                         `json:"last_sync_error_at,omitempty"`
	HeldBack       []*replicator.RowTooLargeError `json:"held_back,omitempty"`
}

func (c *StatusCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := c.m.parse(fs, args, 1, "DB")
	if err != nil {
		return err
	}
	db, err := sqlitefile.Open(ctx, pos[0], sqlitefile.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := readStatus(ctx, changelog.New(db))
	if err != nil {
		return sqlitefile.Explain(pos[0], err)
	}
	if *asJSON {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	w := c.m.Stdout
	fmt.Fprintf(w, "site id:         %s\n", st.SiteID)
	fmt.Fprintf(w, "tracked tables:  %d (%s)\n", len(st.TrackedTables), strings.Join(st.TrackedTables, ", "))
	fmt.Fprintf(w, "pending changes: %d\n", st.PendingChanges)
	fmt.Fprintf(w, "last version:    %d\n", st.LastVersion)
	fmt.Fprintf(w, "conflicts:       %d unresolved", st.Conflicts)
	if st.Conflicts > 0 {
		fmt.Fprintf(w, " (deltasync conflicts %s)", pos[0])
	}
	fmt.Fprintln(w)
	for _, h := range st.HeldBack {
		limit := fmt.Sprintf("the limit of %d bytes", h.Limit)
		if h.Limit == 0 {
			limit = "the hub's limit"
		}
		fmt.Fprintf(w, "held back:       row %s of %q, %d bytes, over %s (too large to sync)\n", h.Key, h.Table, h.Size, limit)
	}
	if st.LastSyncError != "" {
		fmt.Fprintf(w, "last sync failed at %s: %s\n", st.LastSyncErrAt, st.LastSyncError)
	}
	return nil
}

func readStatus(ctx context.Context, l *changelog.Log) (*status, error) {
	site, err := l.SiteID(ctx)
	if err != nil {
		return nil, err
	}
	st := &status{SiteID: site.String()}
	if st.TrackedTables, err = l.Tables(ctx); err != nil {
		return nil, err
	}
	if st.PendingChanges, err = l.Pending(ctx); err != nil {
		return nil, err
	}
	if st.LastVersion, err = l.LastVersion(ctx); err != nil {
		return nil, err
	}
	if st.Conflicts, err = conflicts.Unresolved(ctx, l.DB()); err != nil {
		return nil, err
	}
	if st.HeldBack, err = replicator.HeldRows(ctx, l.DB()); err != nil {
		return nil, err
	}
	msg, at, err := device.LastError(ctx, l.DB())
	if err != nil {
		return nil, err
	}
	if msg != "" {
		st.LastSyncError, st.LastSyncErrAt = msg, at.Format(time.RFC3339)
	}
	return st, nil
}
