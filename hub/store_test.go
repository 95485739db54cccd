package hub_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/replicator"
)

// TestReplicaCap: with more databases than the store keeps open, the idle
// ones are closed, file descriptors stay bounded, and a closed replica
// reopens transparently with every row it had.
func TestReplicaCap(t *testing.T) {
	local := newLocal(t)
	local.Store.MaxOpen = 3
	ctx := context.Background()
	fds := func() int { d, _ := os.ReadDir("/proc/self/fd"); return len(d) }
	const dbs = 12
	syncers := make([]*replicator.Syncer, dbs)
	start := fds()
	for i := range syncers {
		s, path, _ := newSyncer(t, local, notesDDL)
		s.Name = fmt.Sprintf("db%02d", i)
		insertNotes(t, path, s.Name+"-", 3)
		if _, err := s.SyncOnce(ctx); err != nil {
			t.Fatalf("sync %s: %v", s.Name, err)
		}
		syncers[i] = s
		open := local.Store.Open()
		for _, r := range open {
			r.Release()
		}
		if len(open) > 3 {
			t.Fatalf("after %d databases: %d replicas open, cap 3", i+1, len(open))
		}
	}
	// Each device has its own database file open (about two fds each); the hub
	// adds at most its cap's worth.
	if grew, devices := fds()-start, 2*dbs; grew > devices+3*4 {
		t.Errorf("file descriptors grew by %d for %d devices and a hub capped at 3 replicas", grew, dbs)
	}
	// The first databases were closed long ago: a new device of each gets
	// every row.
	for i := range 3 {
		name := fmt.Sprintf("db%02d", i)
		s, _, db := newSyncer(t, local, notesDDL)
		s.Name = name
		if _, err := s.SyncOnce(ctx); err != nil {
			t.Fatalf("sync a new device of %s: %v", name, err)
		}
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM notes WHERE id LIKE ? || '%'`, name); err != nil || n != 3 {
			t.Errorf("%s after reopening: %d rows (%v), want 3", name, n, err)
		}
	}
}

// TestReplicaInUseIsNotClosed: a replica held by a request (a long-poll)
// is not closed to make room; when every replica is in use, a request for
// another database is told to come back (ErrBusy), not served by closing
// one under its user.
func TestReplicaInUseIsNotClosed(t *testing.T) {
	local := newLocal(t)
	local.Store.MaxOpen = 1
	ctx := context.Background()
	a, _, _ := newSyncer(t, local, notesDDL)
	a.Name = "a"
	if _, err := a.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	held, err := local.Store.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := newSyncer(t, local, notesDDL)
	b.Name = "b"
	if _, err := b.SyncOnce(ctx); err == nil {
		t.Fatal("a second database was opened while the only slot was in use")
	} else if !errors.Is(err, hub.ErrBusy) {
		t.Fatalf("got %v, want ErrBusy", err)
	}
	if _, err := held.Node.Log().LastVersion(ctx); err != nil {
		t.Fatalf("the replica in use was closed: %v", err)
	}
	held.Release()
	if _, err := b.SyncOnce(ctx); err != nil {
		t.Fatalf("after the release: %v", err)
	}
}
