package replicator_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/dbdiff"
	"github.com/deltasync/deltasync/internal/dbtest"
)

type testDevice struct {
	path string
	db   *sqlx.DB
	s    *device.Syncer
}

// hubs are the implementations of device.Hub every sync test runs
// against: the same conformance suite for each.
var hubs = []struct {
	name string
	new  func(t *testing.T) device.Hub
}{
	{"local", func(t *testing.T) device.Hub {
		return hub.Local{Store: newStore(t)}
	}},
	{"http", func(t *testing.T) device.Hub {
		srv := httptest.NewServer(hub.NewServer(newStore(t)).Handler())
		t.Cleanup(srv.Close)
		return hub.NewClient(srv.URL, "")
	}},
}

func newStore(t *testing.T) *hub.Store {
	t.Helper()
	st := hub.NewStore(filepath.Join(t.TempDir(), "hub"))
	st.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Cleanup(func() { st.Close() })
	return st
}

// eachHub runs test once per hub implementation.
func eachHub(t *testing.T, test func(t *testing.T, h device.Hub)) {
	for _, impl := range hubs {
		t.Run(impl.name, func(t *testing.T) { test(t, impl.new(t)) })
	}
}

func newDevice(t *testing.T, h device.Hub, ddl string) *testDevice {
	t.Helper()
	return openDevice(t, h, dbtest.NewDB(t, ddl), "app")
}

func (d *testDevice) sync(t *testing.T) device.Stats {
	t.Helper()
	st, err := d.s.SyncOnce(context.Background())
	if err != nil {
		t.Fatalf("sync %s: %v", d.path, err)
	}
	return st
}

func assertSame(t *testing.T, a, b *testDevice) {
	t.Helper()
	r, err := dbdiff.Compare(context.Background(), a.db, b.db)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Equal() {
		t.Errorf("devices differ:\n%s", r)
	}
}

const notes = `CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, body TEXT, n INTEGER, data BLOB);`

func TestSyncTwoDevices(t *testing.T) { eachHub(t, testSyncTwoDevices) }

func testSyncTwoDevices(t *testing.T, h device.Hub) {
	a := newDevice(t, h, notes+`INSERT INTO notes VALUES ('n1', 'old title', 'old body', 1, x'00'), ('n2', 'two', 'b', 2, NULL);`)
	b := newDevice(t, h, notes)
	a.sync(t)
	if st := b.sync(t); st.Pulled != 2 {
		t.Errorf("new device pulled %d changes, want the 2 rows that existed before init", st.Pulled)
	}
	assertSame(t, a, b)

	// Concurrent edits: different columns of one row, and a delete racing an update.
	dbtest.Shell(t, a.path, `UPDATE notes SET title = 'title from a' WHERE id = 'n1'; DELETE FROM notes WHERE id = 'n2'; INSERT INTO notes VALUES ('n3', 'a3', NULL, 3, x'');`)
	dbtest.Shell(t, b.path, `UPDATE notes SET body = 'body from b' WHERE id = 'n1'; UPDATE notes SET n = 22 WHERE id = 'n2'; INSERT INTO notes VALUES ('n4', 'b4', NULL, 4, NULL);`)
	a.sync(t)
	b.sync(t)
	a.sync(t)
	assertSame(t, a, b)
	got := dbtest.Shell(t, a.path, `SELECT id, title, body FROM notes ORDER BY id;`)
	want := "n1|title from a|body from b\nn3|a3|\nn4|b4|\n"
	if got != want {
		t.Errorf("rows after sync:\n%s\nwant:\n%s", got, want)
	}
	// Nothing left to move, and replayed changes are not pending local changes.
	if st := a.sync(t); st.Pushed != 0 || st.Pulled != 0 {
		t.Errorf("a third sync moved %v", st)
	}
	for _, d := range []*testDevice{a, b} {
		if pending, err := d.s.Node.Log().Pending(context.Background()); err != nil || pending != 0 {
			t.Errorf("%s: %d pending changes after sync (%v), want 0", d.path, pending, err)
		}
	}
}

// TestBaselineOnce checks that the first sync ships each row once: rows
// from before install as a baseline, rows written since with their own
// changes, not both.
func TestBaselineOnce(t *testing.T) {
	h := hubs[0].new(t)
	a := newDevice(t, h, notes+`INSERT INTO notes VALUES ('old1', 't', 'b', 1, NULL), ('old2', 't', 'b', 2, NULL);`)
	dbtest.Shell(t, a.path, `INSERT INTO notes VALUES ('new1', 't', 'b', 3, NULL); UPDATE notes SET n = 10 WHERE id = 'old1';`)
	if st := a.sync(t); st.Pushed != 3 {
		t.Errorf("first sync pushed %d changes, want 3 (old1, old2, new1)", st.Pushed)
	}
	b := newDevice(t, h, notes)
	b.sync(t)
	assertSame(t, a, b)
}
