package hub_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

const notesDDL = `CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT);`

func newLocal(t *testing.T) hub.Local {
	t.Helper()
	st := hub.NewStore(filepath.Join(t.TempDir(), "hub"))
	st.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Cleanup(func() { st.Close() })
	return hub.Local{Store: st}
}

// newSyncer opens a device on a new database with ddl, in batches of 10.
func newSyncer(t *testing.T, h device.Hub, ddl string) (*device.Syncer, string, *sqlx.DB) {
	t.Helper()
	path := dbtest.NewDB(t, ddl)
	db := dbtest.MustOpenDB(t, path)
	ctx := context.Background()
	if _, err := triggers.Install(ctx, db, schema.Filter{}); err != nil {
		t.Fatal(err)
	}
	n := replicator.NewNode(db)
	n.BatchSize = 10
	if err := n.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return &device.Syncer{Node: n, Hub: h, Name: "notes"}, path, db
}

func insertNotes(t *testing.T, path, prefix string, n int) {
	t.Helper()
	var sql strings.Builder
	for i := range n {
		fmt.Fprintf(&sql, "INSERT INTO notes VALUES ('%s%02d', 'b');\n", prefix, i)
	}
	dbtest.Shell(t, path, sql.String())
}

func cursors(t *testing.T, db *sqlx.DB) changelog.Cursors {
	t.Helper()
	c, err := changelog.ReadCursors(context.Background(), db, changelog.Hub)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// failingHub fails the push or the pull numbered fail (from 1).
type failingHub struct {
	device.Hub
	pushFail, pullFail int64
	pushes, pulls      atomic.Int64
}

var errInjected = errors.New("injected")

func (h *failingHub) Push(ctx context.Context, db string, frame []byte) (hub.PushResult, error) {
	if h.pushes.Add(1) == h.pushFail {
		return hub.PushResult{}, errInjected
	}
	return h.Hub.Push(ctx, db, frame)
}

func (h *failingHub) Pull(ctx context.Context, db string, req hub.PullRequest) ([]byte, error) {
	f, err := h.Hub.Pull(ctx, db, req)
	if h.pulls.Add(1) == h.pullFail {
		return []byte("not a frame"), err
	}
	return f, err
}

// TestPushStopsAtFailedBatch: Push builds a batch ahead while one is
// pushed; when a push fails, the cursor stays at the last acknowledged
// batch, and the next Push sends the rest.
func TestPushStopsAtFailedBatch(t *testing.T) {
	local := newLocal(t)
	h := &failingHub{Hub: local, pushFail: 2}
	a, path, db := newSyncer(t, h, notesDDL)
	ctx := context.Background()
	if _, err := a.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	insertNotes(t, path, "n", 35)
	var st device.Stats
	if err := a.Push(ctx, &st); !errors.Is(err, errInjected) {
		t.Fatalf("push: got %v, want the injected error", err)
	}
	if got := cursors(t, db).Pushed; got != 10 || st.Pushed != 10 {
		t.Errorf("after the second batch failed: pushed cursor %d, %d changes pushed; want 10, 10", got, st.Pushed)
	}
	st = device.Stats{}
	if err := a.Push(ctx, &st); err != nil {
		t.Fatal(err)
	}
	if got := cursors(t, db).Pushed; got != 35 || st.Pushed != 25 {
		t.Errorf("after a second push: pushed cursor %d, %d changes pushed; want 35, 25", got, st.Pushed)
	}
}

// TestPullStopsAtFailedBatch: Pull fetches a batch ahead while one merges;
// when a fetch fails, what merged stays with its cursor, and the next Pull
// gets the rest.
func TestPullStopsAtFailedBatch(t *testing.T) {
	local := newLocal(t)
	a, path, _ := newSyncer(t, local, notesDDL)
	ctx := context.Background()
	if _, err := a.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	insertNotes(t, path, "n", 35)
	if _, err := a.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	h := &failingHub{Hub: local, pullFail: 3}
	b, _, bdb := newSyncer(t, h, notesDDL)
	var st device.Stats
	if err := b.Pull(ctx, 0, &st); err == nil {
		t.Fatal("pull: no error from a garbled third batch")
	}
	var n int
	if err := bdb.Get(&n, `SELECT count(*) FROM notes`); err != nil || n != 20 || st.Pulled != 20 {
		t.Errorf("after the third batch failed: %d rows (%v), %d pulled; want 20, 20", n, err, st.Pulled)
	}
	pulled := cursors(t, bdb).Pulled
	st = device.Stats{}
	if err := b.Pull(ctx, 0, &st); err != nil {
		t.Fatal(err)
	}
	if err := bdb.Get(&n, `SELECT count(*) FROM notes`); err != nil || n != 35 || st.Pulled != 15 {
		t.Errorf("after a second pull: %d rows (%v), %d pulled; want 35, 15", n, err, st.Pulled)
	}
	if got := cursors(t, bdb).Pulled; got <= pulled {
		t.Errorf("pulled cursor %d after the second pull, was %d", got, pulled)
	}
	// Nothing of b's merges is left to push.
	if pending, err := b.Node.Log().Pending(ctx); err != nil || pending != 0 {
		t.Errorf("%d changes pending on b (%v), want 0", pending, err)
	}
}

// TestLongPollIgnoresOwnPush: a device's long-poll does not end when the
// hub merges that device's own push, which it is not served, but when
// another device's change arrives.
func TestLongPollIgnoresOwnPush(t *testing.T) {
	local := newLocal(t)
	a, apath, _ := newSyncer(t, local, notesDDL)
	b, bpath, _ := newSyncer(t, local, notesDDL)
	ctx := context.Background()
	for _, s := range []*device.Syncer{a, b} {
		if _, err := s.SyncOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cur, err := changelog.ReadCursors(ctx, a.Node.DB, changelog.Hub)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		frame []byte
		err   error
	}
	got := make(chan result, 1)
	go func() {
		f, err := local.Pull(ctx, "notes", hub.PullRequest{Since: cur.Pulled, Limit: 100, Wait: time.Minute, Site: a.Node.Site()})
		got <- result{f, err}
	}()
	// The long-poll must be waiting when a's push lands, so that the push
	// is what would wake it.
	for deadline := time.Now().Add(10 * time.Second); local.Store.Waiting("notes") == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the long-poll never started waiting")
		}
		time.Sleep(time.Millisecond)
	}
	insertNotes(t, apath, "a", 3)
	if _, err := a.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	insertNotes(t, bpath, "b", 2)
	if _, err := b.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	hd, err := a.Node.Header(r.frame)
	if err != nil {
		t.Fatal(err)
	}
	if hd.Changes != 2 {
		t.Errorf("the long-poll returned %d changes, want b's 2", hd.Changes)
	}
}
