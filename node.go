package deltasync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/conflicts"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/schema"
)

// Options configure Open.
type Options struct {
	Hub   string // the hub's URL; empty: capture only, no background sync
	Name  string // the database's name on the hub; default: the file name without extension
	Token string // bearer token for the hub
	// Only and Exclude select the tracked tables, as `deltasync init` does.
	Only, Exclude []string
	// Policies sets the merge policy of some tables, as `deltasync init
	// --policy` does: changelog.LWWColumn (the default), LWWRow or Manual.
	// Tables not named keep the policy stored in the database. Every device
	// of a database must use the same policies.
	Policies map[string]changelog.Policy
	// OnConflict, if set, is called with the conflicts a merge recorded,
	// after the merge committed, on the goroutine that syncs: keep it short.
	OnConflict func([]Conflict)
	// Timeout is how long a request to the hub may make no progress;
	// 0 means hub.DefaultResponseTimeout.
	Timeout time.Duration
	// MaxClockSkew refuses changes stamped further than this ahead of
	// this device's clock; 0 means replicator.DefaultMaxClockSkew.
	MaxClockSkew time.Duration
	// MaxRowBytes holds back, rather than pushes, a larger row; 0 means
	// replicator.DefaultMaxRowBytes.
	MaxRowBytes int64
	// Run tunes the background loop; its zero value uses the defaults.
	Run    device.RunOptions
	Logger *slog.Logger
}

// Conflict is a recorded conflict: a write that lost to a concurrent write
// on another node, both sides with their values, clocks and sites.
type Conflict = conflicts.Conflict

// Keep says which side resolving a conflict keeps: Keep{Side: "local"},
// Keep{Side: "remote"}, or Keep{Side: "value", Values: map[string]any{"col": v}}.
type Keep = conflicts.Keep

// Node is an app's database with deltasync running on it.
type Node struct{ d *device.Device }

// Open opens the SQLite database at path, installs change capture on it if
// needed, and, when opt.Hub is set, starts syncing in the background.
func Open(ctx context.Context, path string, opt Options) (*Node, error) {
	d, err := device.Open(ctx, path, device.Options{
		Hub: opt.Hub, Name: opt.Name, Token: opt.Token, Timeout: opt.Timeout,
		Install:      &device.Install{Filter: schema.Filter{Only: opt.Only, Exclude: opt.Exclude}, Policies: opt.Policies},
		MaxClockSkew: opt.MaxClockSkew, MaxRowBytes: opt.MaxRowBytes,
		OnConflict: opt.OnConflict, Run: opt.Run, Logger: opt.Logger,
	})
	if err != nil {
		return nil, err
	}
	d.Start()
	return &Node{d}, nil
}

// DB returns the database, to use as the app always has.
func (n *Node) DB() *sqlx.DB { return n.d.DB }

// SyncOnce pushes what is pending and pulls what is new, now.
func (n *Node) SyncOnce(ctx context.Context) (device.Stats, error) {
	st, err := n.d.SyncOnce(ctx)
	if errors.Is(err, device.ErrNoHub) {
		return st, errors.New("deltasync: SyncOnce needs Options.Hub")
	}
	return st, err
}

// Conflicts lists the conflicts recorded on this node, oldest first: those
// of one table, or of every table if table is "".
func (n *Node) Conflicts(ctx context.Context, table string) ([]Conflict, error) {
	return conflicts.List(ctx, n.d.Node.DB, conflicts.Filter{Table: table})
}

// Resolve settles conflict id by writing the side keep names into the row,
// as the app would: an ordinary local write that syncs like any other and
// wins on every node. It marks the conflict resolved.
func (n *Node) Resolve(ctx context.Context, id int64, keep Keep) error {
	return conflicts.Resolve(ctx, n.d.Node.DB, n.d.Node.Site(), id, keep)
}

// Close stops the background sync and waits for it, then closes the
// database: once it returns, nothing of deltasync touches the file.
func (n *Node) Close(ctx context.Context) error {
	if err := n.d.Close(ctx); err != nil {
		return fmt.Errorf("deltasync: %w", err)
	}
	return nil
}
