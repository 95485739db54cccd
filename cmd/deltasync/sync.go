package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/replicator"
)

// SyncCommand syncs a database with a hub, once or as a sidecar.
type SyncCommand struct{ m *Main }

func (c *SyncCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	hubURL := fs.String("hub", "", "the hub's URL, such as http://127.0.0.1:7070")
	name := fs.String("name", "", "the database's name on the hub (default: the file name without extension)")
	token := fs.String("token", os.Getenv("DELTASYNC_TOKEN"), "bearer token (default: $DELTASYNC_TOKEN)")
	once := fs.Bool("once", false, "push and pull once, then exit")
	interval := fs.Duration("interval", device.DefaultInterval, "sidecar: a full sync at least this often")
	wait := fs.Duration("wait", device.DefaultWait, "sidecar: long-poll time of each pull")
	timeout := fs.Duration("timeout", hub.DefaultResponseTimeout, "give up on a request the hub makes no progress on for this long (a pull gets its --wait on top)")
	skew := fs.Duration("max-clock-skew", replicator.DefaultMaxClockSkew, "refuse changes stamped further than this ahead of this device's clock")
	maxRow := fs.Int64("max-row-bytes", replicator.DefaultMaxRowBytes, "hold back, rather than push, a row larger than this (its TEXT and BLOB bytes)")
	pos, err := c.m.parse(fs, args, 1, "DB")
	if err != nil {
		return err
	}
	if *hubURL == "" {
		return usageError{"sync: --hub is required"}
	}
	if err := hub.CheckURL(*hubURL); err != nil {
		return usageError{"sync: --hub: " + err.Error()}
	}
	logger := slog.New(slog.NewTextHandler(c.m.Stderr, nil)).With("db", pos[0])
	d, err := device.Open(ctx, pos[0], device.Options{
		Hub: *hubURL, Name: *name, Token: *token, Timeout: *timeout,
		MaxClockSkew: *skew, MaxRowBytes: *maxRow, Logger: logger,
		Run: device.RunOptions{Interval: *interval, Wait: *wait, OnSync: func(st device.Stats) {
			logger.Info("synced", "pushed", st.Pushed, "pulled", st.Pulled, "bytes_sent", st.BytesSent, "bytes_pulled", st.BytesPulled)
		}},
	})
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx)) //nolint:errcheck // nothing was started
	if *once {
		st, err := d.SyncOnce(ctx)
		if err != nil {
			return fmt.Errorf("sync %s: %w", pos[0], err)
		}
		if st.Held > 0 {
			return c.heldBack(ctx, d.DB, pos[0], st)
		}
		fmt.Fprintf(c.m.Stdout, "%s: %s; up to date\n", pos[0], st)
		return nil
	}
	logger.Info("sidecar started", "hub", *hubURL, "name", d.Syncer.Name)
	return d.Run(ctx)
}

// heldBack reports a sync that left rows behind, too large to sync: it is
// not up to date, and says which rows are missing.
func (c *SyncCommand) heldBack(ctx context.Context, db sqlx.QueryerContext, path string, st device.Stats) error {
	held, err := replicator.HeldRows(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "%s: %s; %d row(s) held back, too large to sync:\n", path, st, len(held))
	for _, h := range held {
		fmt.Fprintf(c.m.Stdout, "  %v\n", h)
	}
	return fmt.Errorf("sync %s: %d rows not synced: %w", path, len(held), replicator.ErrRowTooLarge)
}
