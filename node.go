package deltasync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/sqlitefile"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
	"github.com/jmoiron/sqlx"
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
	// Run tunes the background loop; its zero value uses the defaults.
	Run    replicator.RunOptions
	Logger *slog.Logger
}

// Conflict is a recorded conflict: a write that lost to a concurrent write
// on another node, both sides with their values, clocks and sites.
type Conflict = replicator.Conflict

// Keep says which side resolving a conflict keeps: Keep{Side: "local"},
// Keep{Side: "remote"}, or Keep{Side: "value", Values: map[string]any{"col": v}}.
type Keep = replicator.Keep

// Node is an app's database with deltasync running on it.
type Node struct {
	db     *sqlx.DB
	node   *replicator.Node
	syncer *replicator.Syncer
	cancel context.CancelFunc
	done   chan struct{}
}

// Open opens the SQLite database at path, installs change capture on it if
// needed, and, when opt.Hub is set, starts syncing in the background.
func Open(ctx context.Context, path string, opt Options) (*Node, error) {
	db, err := sqlitefile.Open(ctx, path, sqlitefile.Options{CacheKiB: 64 << 10, WAL: true})
	if err != nil {
		return nil, err
	}
	n, err := start(ctx, db, path, opt)
	if err != nil {
		db.Close()
		return nil, err
	}
	return n, nil
}

func start(ctx context.Context, db *sqlx.DB, path string, opt Options) (*Node, error) {
	if _, err := triggers.InstallWithPolicies(ctx, db, schema.Filter{Only: opt.Only, Exclude: opt.Exclude}, opt.Policies); err != nil {
		return nil, sqlitefile.Explain(path, err)
	}
	if err := sqlitefile.EnableWAL(ctx, db, path); err != nil {
		return nil, err
	}
	n := &Node{db: db, node: replicator.NewNode(db), done: make(chan struct{})}
	if opt.Logger != nil {
		n.node.Logger = opt.Logger
	}
	n.node.OnConflict = opt.OnConflict
	if err := n.node.Open(ctx); err != nil {
		return nil, err
	}
	if opt.Hub == "" {
		close(n.done)
		return n, nil
	}
	if opt.Name == "" {
		opt.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	n.syncer = &replicator.Syncer{Node: n.node, Hub: hub.NewClient(opt.Hub, opt.Token), Name: opt.Name}
	loop, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	go func() {
		defer close(n.done)
		n.syncer.Run(loop, opt.Run) //nolint:errcheck // returns nil when the loop is stopped
	}()
	return n, nil
}

// DB returns the database, to use as the app always has.
func (n *Node) DB() *sqlx.DB { return n.db }

// SyncOnce pushes what is pending and pulls what is new, now.
func (n *Node) SyncOnce(ctx context.Context) (replicator.Stats, error) {
	if n.syncer == nil {
		return replicator.Stats{}, errors.New("deltasync: SyncOnce needs Options.Hub")
	}
	return n.syncer.SyncOnce(ctx)
}

// Conflicts lists the conflicts recorded on this node, oldest first: those
// of one table, or of every table if table is "".
func (n *Node) Conflicts(ctx context.Context, table string) ([]Conflict, error) {
	return n.node.Conflicts(ctx, replicator.ConflictFilter{Table: table})
}

// Resolve settles conflict id by writing the side keep names into the row,
// as the app would: an ordinary local write that syncs like any other and
// wins on every node. It marks the conflict resolved.
func (n *Node) Resolve(ctx context.Context, id int64, keep Keep) error {
	return n.node.Resolve(ctx, id, keep)
}

// Close stops the background sync, waits for it, and closes the database.
func (n *Node) Close(ctx context.Context) error {
	if n.cancel != nil {
		n.cancel()
	}
	select {
	case <-n.done:
	case <-ctx.Done():
		return fmt.Errorf("deltasync: close: %w", ctx.Err())
	}
	n.node.Close()
	return n.db.Close()
}
