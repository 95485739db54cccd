package device

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/replicator/rules"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/replicator"
)

// Syncer syncs one device's database with a hub.
type Syncer struct {
	Node *replicator.Node
	Hub  Hub
	Name string // the database's name on the hub

	mu     sync.Mutex // guards failed: the push and pull loops both record
	failed bool       // the last sync failed and LastError holds its error
}

// Stats counts what one sync moved.
type Stats struct {
	Pushed, Pulled         int   // changes
	BytesSent, BytesPulled int64 // encoded batch bytes
	Held                   int   // rows held back after SyncOnce, too large to sync (HeldRows)
	Conflicts              int   // conflicts the pulls' merges recorded
}

func (s Stats) String() string {
	out := fmt.Sprintf("pushed %d changes (%d bytes), pulled %d changes (%d bytes)",
		s.Pushed, s.BytesSent, s.Pulled, s.BytesPulled)
	if s.Conflicts > 0 {
		out += fmt.Sprintf("; %d new conflicts (deltasync conflicts lists them)", s.Conflicts)
	}
	return out
}

// SyncOnce pushes every pending local change, then pulls until the device
// has everything the hub has.
func (s *Syncer) SyncOnce(ctx context.Context) (Stats, error) {
	s.mu.Lock()
	s.failed = true // clear whatever an earlier run left, on success
	s.mu.Unlock()
	st, err := s.syncOnce(ctx)
	s.record(ctx, err)
	return st, err
}

func (s *Syncer) syncOnce(ctx context.Context) (Stats, error) {
	var st Stats
	if err := s.ensureSchema(ctx); err != nil {
		return st, err
	}
	if _, err := s.Node.Baseline(ctx); err != nil {
		return st, err
	}
	if err := s.Push(ctx, &st); err != nil {
		return st, err
	}
	held, err := replicator.HeldRows(ctx, s.Node.DB)
	if err != nil {
		return st, err
	}
	st.Held = len(held)
	err = s.Pull(ctx, 0, &st)
	if errors.Is(err, replicator.ErrUnpushedCollision) {
		// A write made since the push collides with a row the hub serves:
		// the hub orders it once it has it.
		if err := s.Push(ctx, &st); err != nil {
			return st, err
		}
		err = s.Pull(ctx, 0, &st)
	}
	return st, err
}

// ensureSchema gives the hub this database's schema if it has none, and
// refuses to sync with a hub that holds another schema under the same name.
func (s *Syncer) ensureSchema(ctx context.Context) error {
	local, err := s.Node.SchemaDoc(ctx)
	if err != nil {
		return err
	}
	remote, err := s.Hub.Schema(ctx, s.Name)
	if errors.Is(err, hub.ErrNoSchema) {
		return s.Hub.PutSchema(ctx, s.Name, local)
	}
	if err != nil {
		return err
	}
	if remote.Fingerprint != local.Fingerprint {
		return fmt.Errorf("%w: the hub holds %q with schema %.12s, this database has %.12s: the tracked tables, their columns or their conflict policies differ",
			replicator.ErrSchemaMismatch, s.Name, remote.Fingerprint, local.Fingerprint)
	}
	return nil
}

// Push sends local changes in batches; the pushed cursor moves only after
// the hub acknowledged each batch. A batch the hub refuses as too large
// (413) is built again with half its bytes, down to one row, which is then
// held back (see HeldRows): a row the hub cannot take never stops the rows
// written after it.
func (s *Syncer) Push(ctx context.Context, st *Stats) error {
	maxBytes := s.Node.MaxBatchBytes()
	for {
		err := s.push(ctx, st, maxBytes)
		var split *splitError
		if !errors.As(err, &split) {
			return err
		}
		if maxBytes == 1 {
			return split.err // one row a batch already
		}
		maxBytes = max(split.bytes/2, 1)
		s.Node.Logger.Info("the hub refused a batch as too large: pushing smaller ones", "batch_bytes", maxBytes, "err", split.err)
	}
}

// splitError: the hub refused a batch of several rows as too large.
type splitError struct {
	bytes int64 // what the batch's changes counted
	err   error
}

func (e *splitError) Error() string { return e.err.Error() }

// push sends local changes in batches of about maxBytes. While a batch
// full of rows is pushed, the next one is built: the device reads its
// changelog while the hub merges. After a batch that was not full, the
// next is built only once it is pushed: there is no backlog to catch up,
// and building takes the write lock from an app that may still be
// writing. Nor after a batch of large values: two of them at once would
// double the memory a push needs, for little gain. Pull fetches ahead by
// the same rule.
func (s *Syncer) push(ctx context.Context, st *Stats, maxBytes int64) error {
	cur, err := changelog.ReadCursors(ctx, s.Node.DB, changelog.Hub)
	if err != nil {
		return err
	}
	type outgoing struct {
		replicator.OutBatch
		err    error
		pushed chan struct{} // closed once the batch is pushed and its cursor set
	}
	ctx, cancel := context.WithCancel(ctx)
	next := make(chan outgoing) // unbuffered: one batch built ahead, no more
	done := make(chan struct{})
	defer func() { cancel(); <-done }()
	go func() {
		defer close(done)
		defer close(next)
		for from := cur.Pushed; ; {
			b, err := s.Node.NextBatch(ctx, from, maxBytes)
			o := outgoing{b, err, make(chan struct{})}
			select {
			case next <- o:
			case <-ctx.Done():
				return
			}
			if err != nil || b.Through == from {
				return
			}
			if (!b.More || b.Bytes >= maxBytes/2) && !waitFor(ctx, o.pushed) {
				return
			}
			from = b.Through
		}
	}()
	for o := range next {
		if o.err != nil {
			return fmt.Errorf("read local changes: %w", o.err)
		}
		if o.Through == o.From {
			return nil
		}
		acked, err := s.send(ctx, st, o.OutBatch)
		if err != nil {
			return err
		}
		if err := changelog.SetPushed(ctx, s.Node.DB, changelog.Hub, o.Through, acked); err != nil {
			return err
		}
		close(o.pushed)
	}
	return ctx.Err()
}

// send pushes one batch and returns the hub version that acknowledged it.
// A batch of one row the hub refuses as too large is held back instead.
func (s *Syncer) send(ctx context.Context, st *Stats, o replicator.OutBatch) (change.Version, error) {
	if o.N == 0 {
		return 0, nil
	}
	res, err := s.Hub.Push(ctx, s.Name, o.Frame)
	if err == nil {
		st.Pushed += o.N
		st.BytesSent += int64(len(o.Frame))
		return res.Version, nil
	}
	err = fmt.Errorf("push versions %d-%d: %w", o.From+1, o.Through, err)
	if !tooLarge(err) {
		return 0, err
	}
	if held, herr := s.Node.HoldBack(ctx, o); held || herr != nil {
		return 0, herr
	}
	return 0, &splitError{o.Bytes, err}
}

// tooLarge reports whether the hub refused a push for its size: a row,
// frame or request body over its limits.
func tooLarge(err error) bool {
	var status interface{ HTTPStatus() int }
	return errors.Is(err, replicator.ErrRowTooLarge) || errors.Is(err, codec.ErrTooLarge) ||
		errors.As(err, &status) && status.HTTPStatus() == http.StatusRequestEntityTooLarge
}

// staleRetries is how many times Pull asks again after a stale response.
const staleRetries = 3

// Pull merges what the hub has after the pulled cursor, batch by batch,
// each in one transaction with the cursor. wait is the long-poll time of the
// first request. The next batch is fetched and decoded while one merges.
// A stale response (ErrStale: one that does not start at the cursor, or that
// the hub built before this node's last push landed) changes nothing and is
// asked for again.
func (s *Syncer) Pull(ctx context.Context, wait time.Duration, st *Stats) error {
	for attempt := 0; ; attempt++ {
		err := s.pull(ctx, wait, st)
		if !errors.Is(err, replicator.ErrStale) || attempt == staleRetries {
			return err
		}
		wait = 0 // the hub has news: ask again at once
	}
}

func (s *Syncer) pull(ctx context.Context, wait time.Duration, st *Stats) error {
	cur, err := changelog.ReadCursors(ctx, s.Node.DB, changelog.Hub)
	if err != nil {
		return err
	}
	type incoming struct {
		b      *codec.Batch
		bytes  int
		large  bool // fetch no further until it is merged
		err    error
		merged chan struct{}
	}
	ctx, cancel := context.WithCancel(ctx)
	next := make(chan incoming) // unbuffered: one batch fetched ahead, no more
	done := make(chan struct{})
	defer func() { cancel(); <-done }()
	go func() {
		defer close(done)
		defer close(next)
		for from := cur.Pulled; ; wait = 0 {
			b, n, body, err := s.fetch(ctx, from, wait)
			if err == nil && b.Last <= from {
				return // nothing newer
			}
			in := incoming{b, n, int64(body) >= s.Node.MaxBatchBytes()/2, err, make(chan struct{})}
			select {
			case next <- in:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			if in.large && !waitFor(ctx, in.merged) {
				return
			}
			from = b.Last
		}
	}()
	for in := range next {
		if in.err != nil {
			return in.err
		}
		b := in.b
		res, err := s.Node.MergeBatch(ctx, b, rules.RoleDevice)
		if err != nil {
			return fmt.Errorf("merge hub versions %d-%d: %w", b.First+1, b.Last, err)
		}
		st.Pulled += len(b.Changes)
		st.Conflicts += res.Conflicts
		st.BytesPulled += int64(in.bytes)
		close(in.merged)
	}
	return ctx.Err()
}

// waitFor waits until c is closed or ctx ends, and reports which.
func waitFor(ctx context.Context, c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	case <-ctx.Done():
		return false
	}
}

// fetch pulls and decodes the hub's next batch after version since, and
// returns the sizes of its frame and of its body.
func (s *Syncer) fetch(ctx context.Context, since change.Version, wait time.Duration) (*codec.Batch, int, int, error) {
	frame, err := s.Hub.Pull(ctx, s.Name, hub.PullRequest{Since: since, Limit: s.Node.MaxBatchRows(), Wait: wait, Site: s.Node.Site()})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("pull after hub version %d: %w", since, err)
	}
	h, err := s.Node.Header(frame)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("pull after hub version %d: %w", since, err)
	}
	b, err := s.Node.Decode(frame)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("pull after hub version %d: %w", since, err)
	}
	return b, len(frame), int(h.BodyLen), nil
}
