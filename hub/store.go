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
	"time"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/changelog"
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
	changes  changes
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

	store *Store
}

// Waiting returns how many pulls are waiting for a merge into database
// name (long-polls), whether its replica is open or not.
func (s *Store) Waiting(name string) int { return s.changes.waiting(name) }

func (s *Store) path(name string) string { return filepath.Join(s.Dir, name+".db") }

// Get returns the replica of name, opening it if it is not open, or
// ErrNoSchema if the hub has never seen it. The replica stays
// open at least until the caller calls Release.
func (s *Store) Get(ctx context.Context, name string) (*Replica, error) {
	if !validName.MatchString(name) {
		return nil, ErrBadName
	}
	s.mu.Lock()
	sl, ok := s.replicas[name]
	if !ok {
		// A name the hub does not know must not close another replica to
		// make room for it.
		s.mu.Unlock()
		if _, err := os.Stat(s.path(name)); errors.Is(err, os.ErrNotExist) {
			return nil, ErrNoSchema
		}
		s.mu.Lock()
		sl, ok = s.replicas[name]
	}
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
		sl.err = ErrNoSchema
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
	if !errors.Is(err, ErrNoSchema) {
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
	if err := changelog.SetState(ctx, db, changelog.StateHubSchema, mustJSON(doc)); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `PRAGMA journal_mode = DELETE`)
	return err
}

// The page caches of a replica's connections. Every connection of a pool
// keeps its own cache, and a pull's read of a large replica fills it: at
// 64 MiB each, 8 pulls from version 0 of a 250,000-row replica took the
// hub to 1 GB. A read goes through the cache once, so SQLite's default
// size serves it (the kernel caches the file); a merge of a big batch
// needs a cache larger than its working set, or it writes pages twice
// (see sqlitefile.DSN), and gets one for the merge only (a merge of 1,000
// changes or more: changelog.ApplyOptions.CacheKiB). Merges run one per
// replica and DefaultConcurrentPushes in all.
const (
	replicaCacheKiB      = 2 << 10
	replicaMergeCacheKiB = 64 << 10
)

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
	r := &Replica{Name: name, Node: replicator.NewNode(db), store: s}
	r.Node.Logger = s.Logger.With("db", name)
	r.Node.MaxClockSkew = s.MaxClockSkew
	r.Node.MergeCacheKiB = replicaMergeCacheKiB
	if err := r.Node.Open(ctx); err != nil {
		db.Close()
		return nil, err
	}
	var doc string
	if err := changelog.ReadState(ctx, db, changelog.StateHubSchema, &doc); err != nil {
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

// Push merges one frame from a device, and wakes the long-polls of its
// database if the merge moved the version.
func (r *Replica) Push(ctx context.Context, frame []byte) (PushResult, error) {
	return r.PushAs(ctx, frame, nil)
}

// PushAs is Push with admit run in the merge transaction (see
// replicator.Admit).
func (r *Replica) PushAs(ctx context.Context, frame []byte, admit replicator.Admit) (PushResult, error) {
	res, err := r.Node.MergePushAs(ctx, frame, admit)
	if err != nil {
		return PushResult{}, err
	}
	if res.Changes > 0 {
		r.store.changes.signal(r.Name)
	}
	return PushResult{Version: res.Version}, nil
}

// Pull returns the changes of database name after req.Since, waiting up to
// req.Wait for a merge if there are none yet. It holds the replica only
// while it reads, never while it waits: a long-poll does not count against
// MaxOpen, and its replica may be closed and opened again meanwhile.
func (s *Store) Pull(ctx context.Context, name string, req PullRequest) ([]byte, error) {
	frame, _, err := s.pull(ctx, name, req, s.Get, nil)
	return frame, err
}

// pull is Pull, opening the replica with get before each read. With a
// budget, each read first takes a share of it (pullShare), waiting for one
// before it opens the replica; the share is returned with the frame,
// resized to the frame, for the caller to release once it has written it.
// A long-poll holds no share while it waits.
func (s *Store) pull(ctx context.Context, name string, req PullRequest, get func(context.Context, string) (*Replica, error), b *budget) ([]byte, *share, error) {
	p := &longPoll{req: req, deadline: time.Now().Add(req.Wait), served: req.Since}
	for {
		// Watched before the read, so that a merge after it ends the wait.
		changed := s.changes.watch(name)
		sh, err := b.acquire(ctx, pullShare)
		if err != nil {
			return nil, nil, err
		}
		frame, done, err := readOnce(ctx, name, p, get)
		if done && err == nil {
			sh.resize(int64(len(frame)))
			return frame, sh, nil
		}
		sh.release()
		if err != nil {
			return nil, nil, err
		}
		if err := s.changes.wait(ctx, name, changed, p.deadline); err != nil {
			return nil, nil, err
		}
	}
}

// readOnce opens the replica of name for one read of p.
func readOnce(ctx context.Context, name string, p *longPoll, get func(context.Context, string) (*Replica, error)) ([]byte, bool, error) {
	rep, err := get(ctx, name)
	if err != nil {
		return nil, true, err
	}
	defer rep.Release()
	return p.read(ctx, rep)
}

// longPoll is one pull between its reads: what it asked, until when it may
// wait, and what the reads so far found for the asker.
type longPoll struct {
	req      PullRequest
	deadline time.Time
	served   change.Version // the version up to which there is nothing for the asker
	empty    []byte         // the frame that says so
}

// read reads the replica once for p; done says that p has its answer. A
// merge that brings nothing for the asker (its own push, which it is not
// served) does not end the wait: the device would only commit an empty
// merge to move its cursor.
func (p *longPoll) read(ctx context.Context, r *Replica) (frame []byte, done bool, err error) {
	last, err := r.Node.Log().LastVersion(ctx)
	if err != nil {
		return nil, true, err
	}
	over := !time.Now().Before(p.deadline)
	if p.served < last {
		frame, through, n, err := r.Node.Serve(ctx, p.req.Since, p.req.Limit, p.req.Site)
		if err != nil || n > 0 || through < last || over {
			return frame, true, err // through < last: the limit stopped the read
		}
		p.served, p.empty = through, frame
	}
	switch {
	case !over:
		return nil, false, nil
	case p.empty != nil:
		return p.empty, true, nil
	}
	frame, _, _, err = r.Node.Serve(ctx, p.req.Since, p.req.Limit, p.req.Site)
	return frame, true, err
}

// changes wakes the long-polls of a database when a merge moves its
// version. It belongs to the store, not to a replica, so that a long-poll
// waits without holding its replica open and still hears of a merge into
// a replica closed and opened again since it began.
type changes struct {
	mu   sync.Mutex
	next map[string]chan struct{} // closed by the next merge into the name
	n    map[string]int           // long-polls waiting, by name
}

// watch returns the channel that the next merge into name closes.
func (c *changes) watch(name string) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next == nil {
		c.next = map[string]chan struct{}{}
	}
	ch, ok := c.next[name]
	if !ok {
		ch = make(chan struct{})
		c.next[name] = ch
	}
	return ch
}

// signal wakes every long-poll that watches name. The channel is
// forgotten, so the map holds at most one per database watched since
// its last merge.
func (c *changes) signal(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.next[name]; ok {
		close(ch)
		delete(c.next, name)
	}
}

// wait waits, counted as a long-poll on name, until ch is closed, the
// deadline passes or ctx ends; it returns ctx's error.
func (c *changes) wait(ctx context.Context, name string, ch <-chan struct{}, deadline time.Time) error {
	c.add(name, 1)
	defer c.add(name, -1)
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
	case <-ctx.Done():
	}
	return ctx.Err()
}

func (c *changes) add(name string, d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	if c.n[name] += d; c.n[name] <= 0 {
		delete(c.n, name)
	}
}

func (c *changes) waiting(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

// Local is a device.Hub on a Store in the same process.
type Local struct{ Store *Store }

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

func (l Local) Push(ctx context.Context, db string, frame []byte) (PushResult, error) {
	r, err := l.Store.Get(ctx, db)
	if err != nil {
		return PushResult{}, err
	}
	defer r.Release()
	return r.Push(ctx, frame)
}

func (l Local) Pull(ctx context.Context, db string, req PullRequest) ([]byte, error) {
	return l.Store.Pull(ctx, db, req)
}
