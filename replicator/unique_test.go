package replicator_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/replicator"
)

const uniqueDDL = `CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT);
	CREATE TABLE tags (name TEXT PRIMARY KEY, slug TEXT UNIQUE);`

// TestUniqueCollision: two devices insert different rows with the same
// value of a UNIQUE column. The hub cannot hold both, and no policy can pick
// one without losing the other's row: the second push is refused with
// ErrUnique, naming the table, the row and the column and saying what to do,
// and changes nothing. Once the user changes the value where it collides,
// every node converges.
func TestUniqueCollision(t *testing.T) { eachHub(t, testUniqueCollision) }

func testUniqueCollision(t *testing.T, h device.Hub) {
	ctx := context.Background()
	a := newDevice(t, h, uniqueDDL)
	b := newDevice(t, h, uniqueDDL)
	a.sync(t)
	b.sync(t)
	mustExec(t, a, `INSERT INTO u VALUES (1, 'x@example.com', 'A')`)
	a.sync(t)
	mustExec(t, b, `INSERT INTO u VALUES (2, 'x@example.com', 'B')`)
	_, err := b.s.SyncOnce(ctx)
	if !errors.Is(err, replicator.ErrUnique) {
		t.Fatalf("push of a row that collides on a UNIQUE column: got %v, want ErrUnique", err)
	}
	for _, want := range []string{`"u"`, "(2)", "email", "change"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if got := strings.TrimSpace(dbtest.Shell(t, b.path, `SELECT id, email FROM u ORDER BY id;`)); got != "2|x@example.com" {
		t.Errorf("B holds %q after the refused sync, want its own row only", got)
	}

	// The user fixes it on B; the row reaches A.
	mustExec(t, b, `UPDATE u SET email = 'y@example.com' WHERE id = 2`)
	b.sync(t)
	a.sync(t)
	assertSame(t, a, b)
	if got := strings.TrimSpace(dbtest.Shell(t, a.path, `SELECT id, email FROM u ORDER BY id;`)); got != "1|x@example.com\n2|y@example.com" {
		t.Errorf("A holds %q, want both rows", got)
	}

	// The error keeps its kind whatever the key says: over HTTP the hub
	// names it by a code, not by words a key could also contain.
	mustExec(t, a, `INSERT INTO tags VALUES ('a', 'same')`)
	a.sync(t)
	mustExec(t, b, `INSERT INTO tags VALUES ('unknown table', 'same')`)
	if _, err := b.s.SyncOnce(ctx); !errors.Is(err, replicator.ErrUnique) || errors.Is(err, replicator.ErrUnknownTable) {
		t.Fatalf("push of a colliding row keyed 'unknown table': got %v, want ErrUnique only", err)
	}
}

// TestUniqueCollisionOnPull: a row the hub serves collides with a row this
// device wrote and has not pushed yet. The pull is refused with ErrUnique,
// naming the hub's row, and applies nothing of the batch.
func TestUniqueCollisionOnPull(t *testing.T) {
	ctx := context.Background()
	h := hubs[0].new(t)
	a := newDevice(t, h, uniqueDDL)
	b := newDevice(t, h, uniqueDDL)
	a.sync(t)
	b.sync(t)
	mustExec(t, a, `INSERT INTO u VALUES (1, 'x@example.com', 'A'), (3, 'z@example.com', 'A')`)
	a.sync(t)
	mustExec(t, b, `INSERT INTO u VALUES (2, 'x@example.com', 'B')`)
	var stats device.Stats
	err := b.s.Pull(ctx, 0, &stats)
	if !errors.Is(err, replicator.ErrUnique) {
		t.Fatalf("pull of a row that collides with a local one: got %v, want ErrUnique", err)
	}
	if !strings.Contains(err.Error(), "(1)") || !strings.Contains(err.Error(), "email") {
		t.Errorf("error %q does not name the hub's row (1) and the column email", err)
	}
	if got := strings.TrimSpace(dbtest.Shell(t, b.path, `SELECT id FROM u ORDER BY id;`)); got != "2" {
		t.Errorf("B holds rows %q after the refused pull, want only its own (nothing of the batch)", got)
	}
}
