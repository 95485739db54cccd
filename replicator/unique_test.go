package replicator_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/conflicts"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/replicator"
)

const uniqueDDL = `CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT);
	CREATE TABLE tags (name TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE);`

// shellRows is what the sqlite3 shell prints for q on d's file.
func shellRows(t *testing.T, d *testDevice, q string) string {
	t.Helper()
	return strings.TrimSpace(dbtest.Shell(t, d.path, q+";"))
}

// TestUniqueCollision: two devices insert different rows with the same
// value of a UNIQUE column. The hub cannot hold both: the row it gets
// later loses. It is applied nowhere, both the hub and the device that
// wrote it record it as a conflict of kind unique with every value it
// had, the device removes it, and sync goes on: every node converges,
// with nothing lost. Resolving the conflict with a changed value puts the
// row back everywhere.
func TestUniqueCollision(t *testing.T) { eachHub(t, testUniqueCollision) }

func testUniqueCollision(t *testing.T, h device.Hub) {
	ctx := context.Background()
	a := newDevice(t, h, uniqueDDL)
	b := newDevice(t, h, uniqueDDL)
	a.sync(t)
	b.sync(t)
	mustExec(t, a, `INSERT INTO u VALUES (1, 'x@example.com', 'A')`)
	a.sync(t)
	mustExec(t, b, `INSERT INTO u VALUES (2, 'x@example.com', 'B'), (3, 'z@example.com', 'B')`)
	b.sync(t) // the push loses row 2 on the hub; the pull brings the notice, and row 1
	a.sync(t)
	assertSame(t, a, b)
	for _, d := range []*testDevice{a, b} {
		if got := shellRows(t, d, `SELECT id, email, name FROM u ORDER BY id`); got != "1|x@example.com|A\n3|z@example.com|B" {
			t.Errorf("%s holds %q, want row 1 (first at the hub) and row 3 (no collision)", d.path, got)
		}
	}
	if got, want := summary(t, b.s.Node), "unique 2 email: x@example.com<(deleted), name: B<(deleted), row: (row)<(deleted)"; got != want {
		t.Errorf("B recorded %q, want %q", got, want)
	}
	if got := summary(t, a.s.Node); got != "" {
		t.Errorf("A, whose row won, recorded %q", got)
	}

	// The user gives B's row another email: it reaches every node.
	cs, err := conflicts.List(ctx, b.s.Node.DB, conflicts.Filter{})
	if err != nil || len(cs) != 1 {
		t.Fatalf("B's conflicts: %v, %v", cs, err)
	}
	err = conflicts.Resolve(ctx, b.s.Node.DB, b.s.Node.Site(), cs[0].ID, conflicts.Keep{Side: "value", Values: map[string]any{"email": "y@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	b.sync(t)
	a.sync(t)
	assertSame(t, a, b)
	if got := shellRows(t, a, `SELECT id, email, name FROM u ORDER BY id`); got != "1|x@example.com|A\n2|y@example.com|B\n3|z@example.com|B" {
		t.Errorf("A holds %q after B resolved, want row 2 back with its new email", got)
	}
}

// TestUniqueUpdateCollision: a device updates a row to a value another
// row took first. Its update loses: the hub keeps the row as it had it,
// and so does the device, which records its update's values.
func TestUniqueUpdateCollision(t *testing.T) { eachHub(t, testUniqueUpdateCollision) }

func testUniqueUpdateCollision(t *testing.T, h device.Hub) {
	a := newDevice(t, h, uniqueDDL+`INSERT INTO tags VALUES ('go', 'go'), ('rust', 'rust');`)
	b := newDevice(t, h, uniqueDDL)
	a.sync(t)
	b.sync(t)
	mustExec(t, a, `UPDATE tags SET slug = 'lang' WHERE name = 'go'`)
	a.sync(t)
	mustExec(t, b, `UPDATE tags SET slug = 'lang' WHERE name = 'rust'`)
	b.sync(t)
	a.sync(t)
	assertSame(t, a, b)
	if got := shellRows(t, b, `SELECT name, slug FROM tags ORDER BY name`); got != "go|lang\nrust|rust" {
		t.Errorf("B holds %q, want its update undone", got)
	}
	if got, want := summary(t, b.s.Node), "unique rust slug: lang<rust"; got != want {
		t.Errorf("B recorded %q, want %q", got, want)
	}
}

// TestUniqueCollisionOnPull: a row the hub serves collides with a row this
// device wrote and has not pushed yet. The hub must order that write
// first: the pull alone is refused with ErrUnpushedCollision (not a
// refusal that waits: the next sync pushes first), and applies nothing;
// the next sync pushes, the device's row loses at the hub, and every node
// converges.
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
	if !errors.Is(err, replicator.ErrUnpushedCollision) || device.Permanent(err) {
		t.Fatalf("pull of a row that collides with an unpushed one: got %v, want ErrUnpushedCollision, not permanent", err)
	}
	if !strings.Contains(err.Error(), "(1)") || !strings.Contains(err.Error(), "email") {
		t.Errorf("error %q does not name the hub's row (1) and the column email", err)
	}
	if got := shellRows(t, b, `SELECT id FROM u ORDER BY id`); got != "2" {
		t.Errorf("B holds rows %q after the refused pull, want only its own (nothing of the batch)", got)
	}
	b.sync(t)
	a.sync(t)
	assertSame(t, a, b)
	if got := shellRows(t, b, `SELECT id FROM u ORDER BY id`); got != "1\n3" {
		t.Errorf("B holds rows %q, want 1 and 3", got)
	}
	if got, want := summary(t, b.s.Node), "unique 2 email: x@example.com<(deleted), name: B<(deleted), row: (row)<(deleted)"; got != want {
		t.Errorf("B recorded %q, want %q", got, want)
	}
}

// TestUniqueSwap: one device swaps two rows' UNIQUE values through a
// temporary one, in one transaction, and rotates three more; the batch
// carries only the end state, which no order of single-row writes
// reaches. The hub and the other device merge it all the same, with no
// conflict, for a column that allows NULL and one that does not.
func TestUniqueSwap(t *testing.T) { eachHub(t, testUniqueSwap) }

func testUniqueSwap(t *testing.T, h device.Hub) {
	a := newDevice(t, h, uniqueDDL+`INSERT INTO u VALUES (1, 'x', 'one'), (2, 'y', 'two');
		INSERT INTO tags VALUES ('a', 'sa'), ('b', 'sb'), ('c', 'sc');`)
	b := newDevice(t, h, uniqueDDL)
	a.sync(t)
	b.sync(t)
	mustExec(t, a, `BEGIN;
		UPDATE u SET email = 'tmp' WHERE id = 1; UPDATE u SET email = 'x' WHERE id = 2; UPDATE u SET email = 'y' WHERE id = 1;
		UPDATE tags SET slug = '-' WHERE name = 'a'; UPDATE tags SET slug = 'sa' WHERE name = 'c';
		UPDATE tags SET slug = 'sc' WHERE name = 'b'; UPDATE tags SET slug = 'sb' WHERE name = 'a';
		COMMIT`)
	a.sync(t)
	b.sync(t)
	assertSame(t, a, b)
	if got := shellRows(t, b, `SELECT id, email FROM u ORDER BY id`); got != "1|y\n2|x" {
		t.Errorf("B holds %q, want the swap", got)
	}
	if got := shellRows(t, b, `SELECT name, slug FROM tags ORDER BY name`); got != "a|sb\nb|sc\nc|sa" {
		t.Errorf("B holds %q, want the rotation", got)
	}
	for _, d := range []*testDevice{a, b} {
		if got := summary(t, d.s.Node); got != "" {
			t.Errorf("%s recorded %q for a swap", d.path, got)
		}
	}
}
