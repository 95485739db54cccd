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
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// ErrBadName: a database name that is not safe as a file name.
var ErrBadName = errors.New("database names are 1 to 64 letters, digits, '_', '-' or '.', not starting with '.'")

var validName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$`)

// Store holds the hub's replicas, one SQLite file per database name in Dir.
type Store struct {
	Dir          string
	Logger       *slog.Logger
	MaxClockSkew time.Duration // 0: replicator.DefaultMaxClockSkew

	mu       sync.Mutex
	replicas map[string]*Replica
}

// NewStore returns a store on dir. It does no I/O.
func NewStore(dir string) *Store {
	return &Store{Dir: dir, Logger: slog.Default(), replicas: map[string]*Replica{}}
}

// Replica is one database on the hub.
type Replica struct {
	Name string
	Node *replicator.Node
	Doc  replicator.SchemaDoc

	mu      sync.Mutex
	changed chan struct{} // closed and replaced after every merge that moved the version
	waiting atomic.Int64  // pulls waiting for a merge
}

// Waiting returns how many pulls are waiting for a merge (long-polls).
func (r *Replica) Waiting() int { return int(r.waiting.Load()) }

func (s *Store) path(name string) string { return filepath.Join(s.Dir, name+".db") }

// Get returns the replica of name, opening it on first use, or
// replicator.ErrNoSchema if the hub has never seen it.
func (s *Store) Get(ctx context.Context, name string) (*Replica, error) {
	if !validName.MatchString(name) {
		return nil, ErrBadName
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.getLocked(ctx, name)
}

// getLocked is Get with s.mu held.
func (s *Store) getLocked(ctx context.Context, name string) (*Replica, error) {
	if r, ok := s.replicas[name]; ok {
		return r, nil
	}
	if _, err := os.Stat(s.path(name)); errors.Is(err, os.ErrNotExist) {
		return nil, replicator.ErrNoSchema
	}
	r, err := s.open(ctx, name)
	if err != nil {
		return nil, err
	}
	s.replicas[name] = r
	return r, nil
}

// Create makes the replica of a database the hub has not seen, from the
// schema its first device gives. Creating one that exists with the same
// fingerprint returns it.
func (s *Store) Create(ctx context.Context, name string, doc *replicator.SchemaDoc) (*Replica, error) {
	if !validName.MatchString(name) {
		return nil, ErrBadName
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.getLocked(ctx, name)
	if err == nil {
		if r.Doc.Fingerprint != doc.Fingerprint {
			return nil, fmt.Errorf("%w: the hub holds %q with schema %.12s, not %.12s", replicator.ErrSchemaMismatch, name, r.Doc.Fingerprint, doc.Fingerprint)
		}
		return r, nil
	}
	if !errors.Is(err, replicator.ErrNoSchema) {
		return nil, err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, err
	}
	// Build the replica in a temporary file and rename it into place, so a
	// crash never leaves a half-made replica under the real name.
	tmp := s.path(name) + ".new"
	os.Remove(tmp)
	if err := build(ctx, tmp, doc); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, s.path(name)); err != nil {
		return nil, err
	}
	r, err = s.getLocked(ctx, name)
	if err != nil {
		return nil, err
	}
	s.Logger.Info("created replica", "db", name, "fingerprint", doc.Fingerprint)
	return r, nil
}

// build creates a database with doc's tables and installs capture on it.
func build(ctx context.Context, path string, doc *replicator.SchemaDoc) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	f.Close()
	db, err := sqlitefile.Open(ctx, path, sqlitefile.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `PRAGMA journal_mode = WAL`); err != nil {
		return err
	}
	for _, stmt := range doc.Statements {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create replica table: %w (statement: %.200s)", err, stmt)
		}
	}
	if _, err := triggers.InstallWithPolicies(ctx, db, schema.Filter{}, doc.Policies); err != nil {
		return err
	}
	n := replicator.NewNode(db)
	_, fp, err := n.Schema(ctx, db)
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(fp[:]); got != doc.Fingerprint {
		return fmt.Errorf("%w: the schema sent has fingerprint %.12s but builds %.12s", replicator.ErrSchemaMismatch, doc.Fingerprint, got)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO _sync_state (key, value) VALUES ('hub_schema', ?)`, mustJSON(doc))
	return err
}

// replicaCacheKiB is the page cache of every connection to a replica: a
// merge of a big batch needs one larger than its working set, or it writes
// pages twice (see sqlitefile.DSN).
const replicaCacheKiB = 64 << 10

func (s *Store) open(ctx context.Context, name string) (*Replica, error) {
	// In the DSN, so that every connection of the pool gets them: run as
	// PRAGMAs they would set the one connection that ran them.
	db, err := sqlitefile.Open(ctx, s.path(name), sqlitefile.Options{WAL: true, CacheKiB: replicaCacheKiB})
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `PRAGMA journal_mode = WAL`); err != nil {
		db.Close()
		return nil, err
	}
	r := &Replica{Name: name, Node: replicator.NewNode(db), changed: make(chan struct{})}
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

// Close closes every replica.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for name, r := range s.replicas {
		r.Node.Close()
		errs = append(errs, r.Node.DB.Close())
		delete(s.replicas, name)
	}
	return errors.Join(errs...)
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
	doc := r.Doc
	return &doc, nil
}

func (l Local) PutSchema(ctx context.Context, db string, doc *replicator.SchemaDoc) error {
	_, err := l.Store.Create(ctx, db, doc)
	return err
}

func (l Local) Push(ctx context.Context, db string, frame []byte) (replicator.PushResult, error) {
	r, err := l.Store.Get(ctx, db)
	if err != nil {
		return replicator.PushResult{}, err
	}
	return r.Push(ctx, frame)
}

func (l Local) Pull(ctx context.Context, db string, req replicator.PullRequest) ([]byte, error) {
	r, err := l.Store.Get(ctx, db)
	if err != nil {
		return nil, err
	}
	return r.Pull(ctx, req)
}
