package hub_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
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
	syncers := make([]*device.Syncer, dbs)
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

// TestReplicaInUseIsNotClosed: a replica held by a request (a push, a
// pull's read) is not closed to make room; when every replica is in use, a request for
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

// TestLongPollsHoldNoReplica: long-polls waiting on more databases than
// the store keeps open lock no other database out, and a push to a
// waited-on database wakes its long-poll with the change, although its
// replica may have been closed and opened again meanwhile.
func TestLongPollsHoldNoReplica(t *testing.T) {
	local := newLocal(t)
	local.Store.MaxOpen = 2
	ctx := context.Background()
	devices := map[string]*device.Syncer{}
	paths := map[string]string{}
	for _, name := range []string{"a", "b", "c", "d"} {
		s, path, _ := newSyncer(t, local, notesDDL)
		s.Name = name
		if _, err := s.SyncOnce(ctx); err != nil {
			t.Fatalf("sync %s: %v", name, err)
		}
		devices[name], paths[name] = s, path
	}
	type result struct {
		frame []byte
		err   error
	}
	polls := map[string]chan result{}
	pollCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// One after the other: each long-poll's first read must not meet
	// two others reading, which would find every replica in use.
	for _, name := range []string{"a", "b", "c"} {
		cur, err := changelog.ReadCursors(ctx, devices[name].Node.DB, changelog.Hub)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan result, 1)
		polls[name] = got
		go func() {
			f, err := local.Pull(pollCtx, name, hub.PullRequest{Since: cur.Pulled, Wait: time.Minute})
			got <- result{f, err}
		}()
		for deadline := time.Now().Add(10 * time.Second); local.Store.Waiting(name) == 0; time.Sleep(time.Millisecond) {
			select {
			case r := <-got:
				t.Fatalf("the long-poll of %s ended before any push: %v", name, r.err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("the long-poll of %s never started waiting", name)
			}
		}
	}
	insertNotes(t, paths["d"], "d", 1)
	if _, err := devices["d"].SyncOnce(ctx); err != nil {
		t.Fatalf("sync a fourth database beside 3 long-polls, MaxOpen 2: %v", err)
	}
	insertNotes(t, paths["a"], "a", 2)
	if _, err := devices["a"].SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-polls["a"]
	if r.err != nil {
		t.Fatalf("the long-poll of a: %v", r.err)
	}
	if h, err := devices["a"].Node.Header(r.frame); err != nil || h.Changes != 2 {
		t.Errorf("the long-poll of a returned %d changes (%v), want the 2 pushed", h.Changes, err)
	}
}

// TestUnknownNameClosesNothing: a request for a database the hub does not
// have is told so without closing an open replica to make room for it.
func TestUnknownNameClosesNothing(t *testing.T) {
	local := newLocal(t)
	local.Store.MaxOpen = 1
	ctx := context.Background()
	s, path, _ := newSyncer(t, local, notesDDL)
	insertNotes(t, path, "a-", 1)
	if _, err := s.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := local.Store.Get(ctx, fmt.Sprintf("nosuch%d", i)); !errors.Is(err, hub.ErrNoSchema) {
			t.Fatalf("unknown name: %v, want ErrNoSchema", err)
		}
	}
	open := local.Store.Open()
	for _, r := range open {
		r.Release()
	}
	if len(open) != 1 || open[0].Name != s.Name {
		t.Errorf("after requests for unknown names, %d replicas open, want %s's still open", len(open), s.Name)
	}
}
