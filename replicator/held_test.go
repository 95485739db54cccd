package replicator_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/replicator"
)

const files = `CREATE TABLE files (id INTEGER PRIMARY KEY, name TEXT, data BLOB);`

func heldRows(t *testing.T, d *testDevice) []*replicator.RowTooLargeError {
	t.Helper()
	held, err := replicator.HeldRows(context.Background(), d.db)
	if err != nil {
		t.Fatal(err)
	}
	return held
}

// A row over MaxRowBytes is held back, named with its table, key and the
// limit; the rows after it sync. Written again (an update of one column),
// it is sent whole, so that a device that never had it gets the row.
func TestHeldRowSentWholeOnceItFits(t *testing.T) {
	eachHub(t, func(t *testing.T, h device.Hub) {
		a := newDevice(t, h, files)
		a.s.Node.MaxRowBytes = 1 << 20
		b := newDevice(t, h, files)
		dbtest.Shell(t, a.path, `INSERT INTO files VALUES (7, 'big', randomblob(2*1024*1024));
			INSERT INTO files VALUES (1, 'after', 'x');`)
		if st := a.sync(t); st.Held != 1 || st.Pushed != 1 {
			t.Errorf("sync with a row over the limit: %+v, want 1 change pushed and 1 row held", st)
		}
		held := heldRows(t, a)
		if len(held) != 1 {
			t.Fatalf("held rows: %v, want 1", held)
		}
		msg := held[0].Error()
		for _, want := range []string{`"files"`, "(7)", "1048576"} {
			if !strings.Contains(msg, want) {
				t.Errorf("held row %q does not name %s", msg, want)
			}
		}
		if !errors.Is(held[0], replicator.ErrRowTooLarge) {
			t.Errorf("held row error does not wrap ErrRowTooLarge")
		}
		b.sync(t)
		if got := dbtest.Shell(t, b.path, `SELECT group_concat(id) FROM files;`); got != "1\n" {
			t.Errorf("b holds rows %q, want only 1", got)
		}

		dbtest.Shell(t, a.path, `UPDATE files SET data = x'0102' WHERE id = 7;`)
		if st := a.sync(t); st.Held != 0 {
			t.Errorf("sync after the row was written smaller: %d rows held, want 0", st.Held)
		}
		b.sync(t)
		assertSame(t, a, b)
		if got := dbtest.Shell(t, b.path, `SELECT name, hex(data) FROM files WHERE id = 7;`); got != "big|0102\n" {
			t.Errorf("b's row 7: %q, want the whole row, big|0102", got)
		}
		if held := heldRows(t, a); len(held) != 0 {
			t.Errorf("still held after syncing: %v", held)
		}
	})
}

// A hub with a smaller body limit than the device's batches refuses a
// batch (413): the device pushes it again in smaller batches, and holds
// back the one row the hub refuses alone.
func TestHubRefusesTooLarge(t *testing.T) {
	srv := hub.NewServer(newStore(t))
	srv.MaxBody = 1 << 20
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	h := hub.NewClient(ts.URL, "")
	a := newDevice(t, h, files)
	b := newDevice(t, h, files)
	dbtest.Shell(t, a.path, `INSERT INTO files VALUES (1, 'a', randomblob(400*1024)), (2, 'b', randomblob(400*1024)), (3, 'c', randomblob(400*1024));
		INSERT INTO files VALUES (7, 'big', randomblob(2*1024*1024));
		INSERT INTO files VALUES (4, 'after', 'x');`)
	if st := a.sync(t); st.Held != 1 || st.Pushed != 4 {
		t.Errorf("sync against a hub with a 1 MiB limit: %+v, want 4 changes pushed, 1 row held", st)
	}
	if held := heldRows(t, a); len(held) != 1 || held[0].Key != "(7)" || held[0].Limit != 0 {
		t.Errorf("held rows %v, want row (7), over the hub's limit", held)
	}
	b.sync(t)
	if got := dbtest.Shell(t, b.path, `SELECT group_concat(id) FROM (SELECT id FROM files ORDER BY id);`); got != "1,2,3,4\n" {
		t.Errorf("b holds rows %q, want 1,2,3,4", got)
	}
}

// Another device's write of a held row wins on every node: the held write
// never left its device.
func TestHeldRowOverwrittenByAnotherDevice(t *testing.T) {
	h := hubs[0].new(t)
	a := newDevice(t, h, files)
	a.s.Node.MaxRowBytes = 1 << 20
	b := newDevice(t, h, files)
	dbtest.Shell(t, a.path, `INSERT INTO files VALUES (7, 'big', randomblob(2*1024*1024));`)
	a.sync(t)
	dbtest.Shell(t, b.path, `INSERT INTO files VALUES (7, 'from b', 'small');`)
	b.sync(t)
	a.sync(t)
	assertSame(t, a, b)
	if got := dbtest.Shell(t, a.path, `SELECT name, length(data) FROM files WHERE id = 7;`); got != "from b|5\n" {
		t.Errorf("a's row 7 after b wrote it: %q, want b's, from b|5", got)
	}
}
