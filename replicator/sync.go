package replicator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// hubPeer is the _sync_peers name of a device's hub.
const hubPeer = "hub"

// Syncer syncs one device's database with a hub.
type Syncer struct {
	Node *Node
	Hub  Hub
	Name string // the database's name on the hub

	mu     sync.Mutex // guards failed: the push and pull loops both record
	failed bool       // the last sync failed and LastError holds its error
}

// Stats counts what one sync moved.
type Stats struct {
	Pushed, Pulled         int   // changes
	BytesSent, BytesPulled int64 // encoded batch bytes
}

func (s Stats) String() string {
	return fmt.Sprintf("pushed %d changes (%d bytes), pulled %d changes (%d bytes)",
		s.Pushed, s.BytesSent, s.Pulled, s.BytesPulled)
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
	return st, s.Pull(ctx, 0, &st)
}

// ensureSchema gives the hub this database's schema if it has none, and
// refuses to sync with a hub that holds another schema under the same name.
func (s *Syncer) ensureSchema(ctx context.Context) error {
	local, err := s.Node.SchemaDoc(ctx)
	if err != nil {
		return err
	}
	remote, err := s.Hub.Schema(ctx, s.Name)
	if errors.Is(err, ErrNoSchema) {
		return s.Hub.PutSchema(ctx, s.Name, local)
	}
	if err != nil {
		return err
	}
	if remote.Fingerprint != local.Fingerprint {
		return fmt.Errorf("%w: the hub holds %q with schema %.12s, this database has %.12s: the tracked tables, their columns or their conflict policies differ",
			ErrSchemaMismatch, s.Name, remote.Fingerprint, local.Fingerprint)
	}
	return nil
}

// Push sends local changes in batches; the pushed cursor moves only after
// the hub acknowledged each batch.
func (s *Syncer) Push(ctx context.Context, st *Stats) error {
	since, err := Cursor(ctx, s.Node.DB, hubPeer, "pushed")
	if err != nil {
		return err
	}
	for {
		frame, through, n, err := s.Node.Outgoing(ctx, since)
		if err != nil {
			return fmt.Errorf("read local changes: %w", err)
		}
		if through == since {
			return nil
		}
		if n > 0 {
			_, err := s.Hub.Push(ctx, s.Name, frame)
			if err != nil {
				return fmt.Errorf("push versions %d-%d: %w", since+1, through, err)
			}
			st.Pushed += n
			st.BytesSent += int64(len(frame))
		}
		if err := SetCursor(ctx, s.Node.DB, hubPeer, "pushed", through); err != nil {
			return err
		}
		since = through
	}
}

// Pull merges what the hub has after the pulled cursor, batch by batch,
// each in one transaction with the cursor. wait is the long-poll time of the
// first request.
func (s *Syncer) Pull(ctx context.Context, wait time.Duration, st *Stats) error {
	since, err := Cursor(ctx, s.Node.DB, hubPeer, "pulled")
	if err != nil {
		return err
	}
	for {
		frame, err := s.Hub.Pull(ctx, s.Name, PullRequest{Since: uint64(since), Limit: s.Node.batchSize(), Wait: wait, Site: s.Node.site})
		if err != nil {
			return fmt.Errorf("pull after hub version %d: %w", since, err)
		}
		wait = 0
		b, err := s.Node.dec.Decode(frame)
		if err != nil {
			return fmt.Errorf("pull after hub version %d: %w", since, err)
		}
		if int64(b.Last) <= since {
			return nil
		}
		if _, err := s.Node.MergeBatch(ctx, b, hubPeer); err != nil {
			return fmt.Errorf("merge hub versions %d-%d: %w", b.First+1, b.Last, err)
		}
		st.Pulled += len(b.Changes)
		st.BytesPulled += int64(len(frame))
		since = int64(b.Last)
	}
}
