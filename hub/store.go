package hub

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deltasync/deltasync/internal/sqlitefile"
	"github.com/deltasync/deltasync/migrations"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/schema"
)

// ErrBadName: a database name that is not safe as a file name.
var ErrBadName = errors.New("database names are 1 to 64 letters, digits, '_', '-' or '.', not starting with '.'")

var validName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$`)

// Defaults of a Store.
const (
	// DefaultMaxOpen is how many replicas a store keeps open at once. Each
	// takes three file descriptors (database, WAL, shared memory) and its
	// page cache; idle ones beyond it are closed, least recently used first.
	DefaultMaxOpen = 128
	// DefaultIdleTimeout closes a replica no request has used for this long.
	DefaultIdleTimeout = 10 * time.Minute
)

// ErrBusy: every replica the store may keep open is in use.
var ErrBusy = errors.New("the hub has too many databases in use: try again shortly")

// Store holds the hub's replicas, one SQLite file per database name in Dir.
//
// No lock shared by all databases is held while a replica is opened,
// built, merged into or read: mu guards only the map of open replicas, and
// each replica has its own locks.
type Store struct {
	Dir          string
	Logger       *slog.Logger
	MaxClockSkew time.Duration // 0: replicator.DefaultMaxClockSkew
	MaxOpen      int           // replicas open at once; 0: DefaultMaxOpen
	IdleTimeout  time.Duration // 0: DefaultIdleTimeout

	mu       sync.Mutex
	replicas map[string]*slot
}

// slot is one name's place in the store: a replica being opened (ready not
// yet closed), or open (r set) and used by users requests.
type slot struct {
	ready    chan struct{}
	r        *Replica
	err      error
	users    int
	lastUsed time.Time
}

// NewStore returns a store on dir. It does no I/O.
func NewStore(dir string) *Store {
	return &Store{Dir: dir, Logger: slog.Default(), replicas: map[string]*slot{}}
}

// Replica is one database on the hub.
type Replica struct {
	Name string
	Node *replicator.Node
	Doc  replicator.SchemaDoc

	store   *Store
	mu      sync.Mutex
	changed chan struct{} // closed and replaced after every merge that moved the version
	waiting atomic.Int64  // pulls waiting for a merge
}

// Waiting returns how many pulls are waiting for a merge (long-polls).
func (r *Replica) Waiting() int { return int(r.waiting.Load()) }

func (s *Store) path(name string) string { return filepath.Join(s.Dir, name+".db") }

// Get returns the replica of name, opening it if it is not open, or
// replicator.ErrNoSchema if the hub has never seen it. The replica stays
// open at least until the caller calls Release.
func (s *Store) Get(ctx context.Context, name string) (*Replica, error) {
	if !validName.MatchString(name) {
		return nil, ErrBadName
	}
	s.mu.Lock()
	sl, ok := s.replicas[name]
	if !ok {
		if err := s.makeRoomLocked(); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		sl = &slot{ready: make(chan struct{})}
		s.replicas[name] = sl
		s.mu.Unlock()
		s.openSlot(ctx, name, sl)
		s.mu.Lock()
	}
	sl.users++
	s.mu.Unlock()
	select {
	case <-sl.ready:
	case <-ctx.Done():
		s.release(name, sl)
		return nil, ctx.Err()
	}
	if sl.err != nil {
		s.release(name, sl)
		return nil, sl.err
	}
	return sl.r, nil
}

// openSlot opens name's replica into sl, without the store's lock; a
// failure is given to every waiter and forgotten, so the next Get tries again.
func (s *Store) openSlot(ctx context.Context, name string, sl *slot) {
	if _, err := os.Stat(s.path(name)); errors.Is(err, os.ErrNotExist) {
		sl.err = replicator.ErrNoSchema
	} else {
		sl.r, sl.err = s.open(context.WithoutCancel(ctx), name)
	}
	if sl.err != nil {
		s.mu.Lock()
		if s.replicas[name] == sl {
			delete(s.replicas, name)
		}
		s.mu.Unlock()
	}
	close(sl.ready)
}

// Release ends a use of r that Get began.
func (r *Replica) Release() {
	r.store.mu.Lock()
	sl := r.store.replicas[r.Name]
	r.store.mu.Unlock()
	if sl != nil && sl.r == r {
		r.store.release(r.Name, sl)
	}
}

func (s *Store) release(name string, sl *slot) {
	s.mu.Lock()
	sl.users--
	sl.lastUsed = time.Now()
	s.mu.Unlock()
}

// makeRoomLocked closes replicas idle for longer than the idle timeout and,
// if the store is still at its cap, the least recently used idle one. With
// every replica in use it returns ErrBusy. s.mu is held; the closing
// happens in the background, since a close checkpoints the WAL.
func (s *Store) makeRoomLocked() error {
	maxOpen, idle := s.MaxOpen, s.IdleTimeout
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpen
	}
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	var victims []*Replica
	var lru string
	for name, sl := range s.replicas {
		if sl.users > 0 || sl.r == nil {
			continue
		}
		if time.Since(sl.lastUsed) > idle {
			victims = append(victims, sl.r)
			delete(s.replicas, name)
		} else if lru == "" || sl.lastUsed.Before(s.replicas[lru].lastUsed) {
			lru = name
		}
	}
	if len(s.replicas) >= maxOpen {
		if lru == "" {
			return ErrBusy
		}
		victims = append(victims, s.replicas[lru].r)
		delete(s.replicas, lru)
	}
	for _, r := range victims {
		s.Logger.Debug("closing idle replica", "db", r.Name)
		go r.close()
	}
	return nil
}

// Open returns the replicas open now, each held until the caller releases it.
func (s *Store) Open() []*Replica {
	s.mu.Lock()
	defer s.mu.Unlock()
	var open []*Replica
	for _, sl := range s.replicas {
		if sl.r != nil {
			sl.users++
			open = append(open, sl.r)
		}
	}
	return open
}

// Create makes the replica of a database the hub has not seen, from the
// schema its first device gives, once checkDoc has proved that the schema
// creates only the tables and indexes it declares. Creating one that exists
// with the same fingerprint returns it; the caller releases it.
func (s *Store) Create(ctx context.Context, name string, doc *replicator.SchemaDoc) (*Replica, error) {
	if !validName.MatchString(name) {
		return nil, ErrBadName
	}
	r, err := s.Get(ctx, name)
	if err == nil {
		return r, sameSchema(r, doc)
	}
	if !errors.Is(err, replicator.ErrNoSchema) {
		return nil, err
	}
	if err := s.buildReplica(ctx, name, doc); err != nil {
		return nil, err
	}
	if r, err = s.Get(ctx, name); err != nil {
		return nil, err
	}
	return r, sameSchema(r, doc)
}

func sameSchema(r *Replica, doc *replicator.SchemaDoc) error {
	if r.Doc.Fingerprint != doc.Fingerprint {
		return fmt.Errorf("%w: the hub holds %q with schema %.12s, not %.12s", replicator.ErrSchemaMismatch, r.Name, r.Doc.Fingerprint, doc.Fingerprint)
	}
	return nil
}

// buildFile builds the replica in a temporary file and links it into
// place, so that a crash never leaves a half-made replica under the real
// name and, of two devices creating one name at once, one wins whole.
func (s *Store) buildFile(ctx context.Context, name string, doc *replicator.SchemaDoc) error {
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	f, err := os.CreateTemp(s.Dir, name+".*.new")
	if err != nil {
		return fmt.Errorf("create replica file: %w", err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	defer os.Remove(tmp + "-wal")
	defer os.Remove(tmp + "-shm")
	if err := build(ctx, tmp, doc); err != nil {
		return err
	}
	if err := os.Link(tmp, s.path(name)); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create replica file: %w", err)
	}
	s.Logger.Info("created replica", "db", name, "fingerprint", doc.Fingerprint)
	return nil
}

// build creates a database with doc's tables, under the same authorizer
// checkDoc used, and installs capture on it. The fingerprint, which covers
// every table and index statement, proves the replica holds what the
// device has.
func build(ctx context.Context, path string, doc *replicator.SchemaDoc) error {
	ctx, cancel := context.WithTimeout(ctx, schemaBuildTimeout)
	defer cancel()
	db, err := sqlitefile.Open(ctx, path, sqlitefile.Options{Driver: replicaDriver})
	if err != nil {
		return err
	}
	defer db.Close()
	// Rollback journal while building: the file is linked into place whole,
	// with no WAL beside it; open switches it to WAL.
	conn, err := db.Connx(ctx)
	if err != nil {
		return err
	}
	err = runDDL(ctx, conn, doc.Statements)
	conn.Close()
	if err != nil {
		return err
	}
	// Past the statements, a failure is the hub's own: its migrations and
	// triggers, whose SQL a client must not see.
	if _, err := installCapture(ctx, db, schema.Filter{}, doc.Policies); err != nil {
		return fmt.Errorf("install capture: %w", err)
	}
	n := replicator.NewNode(db)
	_, fp, err := n.Schema(ctx, db)
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(fp[:]); got != doc.Fingerprint {
		return fmt.Errorf("%w: the schema sent has fingerprint %.12s but builds %.12s", replicator.ErrSchemaMismatch, doc.Fingerprint, got)
	}
	if _, err = db.ExecContext(ctx, `INSERT INTO _sync_state (key, value) VALUES ('hub_schema', ?)`, mustJSON(doc)); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `PRAGMA journal_mode = DELETE`)
	return err
}

// replicaCacheKiB is the page cache of every connection to a replica: a
// merge of a big batch needs one larger than its working set, or it writes
// pages twice (see sqlitefile.DSN).
const replicaCacheKiB = 64 << 10

func (s *Store) open(ctx context.Context, name string) (*Replica, error) {
	// In the DSN, so that every connection of the pool gets them: run as
	// PRAGMAs they would set the one connection that ran them.
	db, err := sqlitefile.Open(ctx, s.path(name), sqlitefile.Options{WAL: true, CacheKiB: replicaCacheKiB, Driver: replicaDriver})
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `PRAGMA journal_mode = WAL`); err != nil {
		db.Close()
		return nil, err
	}
	// A replica made by an older hub gets the internal tables added since
	// (the hub's own, such as _sync_hub_sites, among them).
	if err := migrations.Up(ctx, db.DB); err != nil {
		db.Close()
		return nil, err
	}
	r := &Replica{Name: name, Node: replicator.NewNode(db), store: s, changed: make(chan struct{})}
	r.Node.Logger = s.Logger.With("db", name)
	r.Node.MaxClockSkew = s.MaxClockSkew
	if err := r.Node.Open(ctx); err != nil {
		db.Close()
		return nil, err
	}
	var doc string
	if err := db.GetContext(ctx, &doc, `SELECT value FROM _sync_state WHERE key = 'hub_schema'`); err != nil {
		db.Close()
		return nil, fmt.Errorf("replica %s has no schema record: %w", name, err)
	}
	if err := unmarshalJSON(doc, &r.Doc); err != nil {
		db.Close()
		return nil, err
	}
	return r, nil
}

// Close closes every replica. Requests must have ended.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for name, sl := range s.replicas {
		if sl.r != nil {
			errs = append(errs, sl.r.close())
		}
		delete(s.replicas, name)
	}
	return errors.Join(errs...)
}

func (r *Replica) close() error {
	r.Node.Close()
	return r.Node.DB.Close()
}

// Push merges one frame from a device.
func (r *Replica) Push(ctx context.Context, frame []byte) (replicator.PushResult, error) {
	res, err := r.Node.MergePush(ctx, frame)
	if err != nil {
		return replicator.PushResult{}, err
	}
	if res.Changes > 0 {
		r.mu.Lock()
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}
	return replicator.PushResult{Version: uint64(res.Version)}, nil
}

// Pull returns the changes after req.Since, waiting up to req.Wait for a
// merge if there are none yet. A merge that brings nothing for the asker
// (its own push, which it is not served) does not end the wait: the device
// would only commit an empty merge to move its cursor.
func (r *Replica) Pull(ctx context.Context, req replicator.PullRequest) ([]byte, error) {
	deadline := time.Now().Add(req.Wait)
	served := int64(req.Since) // the version up to which there is nothing for the asker
	var empty []byte           // the frame that says so
	for {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		last, err := r.Node.Log().LastVersion(ctx)
		if err != nil {
			return nil, err
		}
		wait := time.Until(deadline)
		if served < last {
			frame, through, n, err := r.Node.Serve(ctx, int64(req.Since), req.Limit, req.Site)
			if err != nil || n > 0 || through < last || wait <= 0 {
				return frame, err // through < last: the limit stopped the read
			}
			served, empty = through, frame
		}
		if wait <= 0 {
			if empty != nil {
				return empty, nil
			}
			frame, _, _, err := r.Node.Serve(ctx, int64(req.Since), req.Limit, req.Site)
			return frame, err
		}
		timer := time.NewTimer(wait)
		r.waiting.Add(1)
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
		}
		r.waiting.Add(-1)
		timer.Stop()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// Local is a replicator.Hub on a Store in the same process.
type Local struct{ Store *Store }

var _ replicator.Hub = Local{}

func (l Local) Schema(ctx context.Context, db string) (*replicator.SchemaDoc, error) {
	r, err := l.Store.Get(ctx, db)
	if err != nil {
		return nil, err
	}
	defer r.Release()
	doc := r.Doc
	return &doc, nil
}

func (l Local) PutSchema(ctx context.Context, db string, doc *replicator.SchemaDoc) error {
	r, err := l.Store.Create(ctx, db, doc)
	if r != nil {
		r.Release()
	}
	return err
}

func (l Local) Push(ctx context.Context, db string, frame []byte) (replicator.PushResult, error) {
	r, err := l.Store.Get(ctx, db)
	if err != nil {
		return replicator.PushResult{}, err
	}
	defer r.Release()
	return r.Push(ctx, frame)
}

func (l Local) Pull(ctx context.Context, db string, req replicator.PullRequest) ([]byte, error) {
	r, err := l.Store.Get(ctx, db)
	if err != nil {
		return nil, err
	}
	defer r.Release()
	return r.Pull(ctx, req)
}
