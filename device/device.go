package device

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/conflicts"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/sqlitefile"
	"github.com/deltasync/deltasync/migrations"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// Options configure a device. The Go API (deltasync.Options) and
// `deltasync sync` both fill them: every setting exists in both.
type Options struct {
	Hub   string // the hub's URL; empty: capture only, no sync
	Name  string // the database's name on the hub; default: the file name without extension
	Token string // bearer token for the hub
	// Timeout is how long a request may make no progress
	// (hub.Client.ResponseTimeout); 0 means hub.DefaultResponseTimeout.
	Timeout time.Duration
	// Install, if set, installs capture on open (idempotently), as
	// `deltasync init` does; otherwise the database must have it already.
	Install *Install
	// MaxClockSkew and MaxRowBytes set the replicator.Node fields of the
	// same names; 0 means their defaults.
	MaxClockSkew time.Duration
	MaxRowBytes  int64
	// OnConflict, if set, is called with the conflicts a merge recorded,
	// after the merge committed, on the goroutine that syncs: keep it short.
	OnConflict func([]conflicts.Conflict)
	Run        RunOptions // tunes Run; its zero value uses the defaults
	Logger     *slog.Logger
}

// Install selects the tables to track and their merge policies.
type Install struct {
	Filter   schema.Filter
	Policies map[string]changelog.Policy
}

// Device is an app's database file with deltasync running on it.
type Device struct {
	DB     *sqlx.DB
	Node   *replicator.Node
	Syncer *Syncer // nil without Options.Hub
	Path   string

	run  RunOptions
	stop context.CancelFunc // ends Start's loop
	done chan struct{}      // closed when Start's loop has ended
}

// ErrNoHub: a sync was asked of a device opened without a hub.
var ErrNoHub = errors.New("the device was opened without a hub URL")

// Open opens the SQLite database at path as a device: capture installed (or
// installed now, with opt.Install), its internal tables upgraded, WAL on,
// and, with opt.Hub, a Syncer for it. Nothing runs until Run or Start.
func Open(ctx context.Context, path string, opt Options) (*Device, error) {
	db, err := openFile(ctx, path, cmp.Or(opt.Logger, slog.Default()))
	if err != nil {
		return nil, err
	}
	d := &Device{DB: db, Path: path, run: opt.Run}
	if err := d.open(ctx, opt); err != nil {
		d.Node.Close()
		db.Close()
		return nil, err
	}
	return d, nil
}

// openFile opens the app's database. If the app's triggers call SQL
// functions the app registers in its own connections, deltasync's
// connections get stand-ins for them (sqlitefile.StubDriver): SQLite
// compiles a table's triggers into every write of the table, and without
// them no merge could write it. Replay does not fire the app's triggers.
func openFile(ctx context.Context, path string, logger *slog.Logger) (*sqlx.DB, error) {
	opt := sqlitefile.Options{CacheKiB: 64 << 10, WAL: true}
	db, err := sqlitefile.Open(ctx, path, opt)
	if err != nil {
		return nil, err
	}
	fns, err := sqlitefile.AppFunctions(ctx, db)
	if err != nil {
		db.Close()
		return nil, sqlitefile.Explain(path, err)
	}
	if len(fns) == 0 {
		return db, nil
	}
	db.Close()
	logger.Warn("the app's triggers call SQL functions only the app has: deltasync stands in for them; replay does not run them",
		"db", path, "functions", strings.Join(fns, ","))
	opt.Driver = sqlitefile.StubDriver(fns)
	return sqlitefile.Open(ctx, path, opt)
}

func (d *Device) open(ctx context.Context, opt Options) error {
	d.Node = replicator.NewNode(d.DB)
	if opt.Install != nil {
		if _, err := triggers.InstallWithPolicies(ctx, d.DB, opt.Install.Filter, opt.Install.Policies); err != nil {
			return sqlitefile.Explain(d.Path, err)
		}
	}
	d.Node.MaxClockSkew, d.Node.MaxRowBytes = opt.MaxClockSkew, opt.MaxRowBytes
	d.Node.OnConflict = opt.OnConflict
	if opt.Logger != nil {
		d.Node.Logger = opt.Logger
	}
	if err := d.Node.Open(ctx); err != nil {
		return sqlitefile.Explain(d.Path, err)
	}
	if err := sqlitefile.EnableWAL(ctx, d.DB, d.Path); err != nil {
		return err
	}
	// A database installed by an older deltasync gets the internal tables
	// added since (such as _sync_held), as a replica does when opened.
	if err := migrations.Up(ctx, d.DB.DB); err != nil {
		return sqlitefile.Explain(d.Path, err)
	}
	if opt.Hub != "" {
		d.Syncer = &Syncer{Node: d.Node, Hub: newClient(opt), Name: nameOr(opt.Name, d.Path)}
	}
	return nil
}

func newClient(opt Options) *hub.Client {
	c := hub.NewClient(opt.Hub, opt.Token)
	c.ResponseTimeout = opt.Timeout
	return c
}

// nameOr is name, or by default the file name without its extension.
func nameOr(name, path string) string {
	if name != "" {
		return name
	}
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// SyncOnce pushes what is pending and pulls what is new, now.
func (d *Device) SyncOnce(ctx context.Context) (Stats, error) {
	if d.Syncer == nil {
		return Stats{}, ErrNoHub
	}
	return d.Syncer.SyncOnce(ctx)
}

// Run keeps the device in sync until ctx ends (Syncer.Run).
func (d *Device) Run(ctx context.Context) error {
	if d.Syncer == nil {
		return ErrNoHub
	}
	return d.Syncer.Run(ctx, d.run)
}

// Start runs Run in the background until Close; without a hub it does
// nothing.
func (d *Device) Start() {
	if d.Syncer == nil || d.done != nil {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	d.stop, d.done = stop, make(chan struct{})
	go func() {
		defer close(d.done)
		d.Run(ctx) //nolint:errcheck // returns nil when the loop is stopped
	}()
}

// Close stops what Start started and waits for it, then closes the
// database: once it returns, nothing of the device touches the file. If
// ctx ends first, it returns ctx's error and leaves the database open.
func (d *Device) Close(ctx context.Context) error {
	if d.stop != nil {
		d.stop()
		select {
		case <-d.done:
		case <-ctx.Done():
			return fmt.Errorf("close %s: %w", d.Path, ctx.Err())
		}
	}
	d.Node.Close()
	return d.DB.Close()
}
