package replicator_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/replicator/rules"

	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/replicator"
)

// encode builds a frame for n's schema from a batch, with the fingerprint of n.
func encode(t *testing.T, n *replicator.Node, b *codec.Batch, fingerprint bool) []byte {
	t.Helper()
	if fingerprint {
		_, fp, err := n.Schema(context.Background(), n.DB)
		if err != nil {
			t.Fatal(err)
		}
		b.Fingerprint = fp
	}
	enc, err := codec.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	frame, err := enc.Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return frame
}

// insertBatch inserts row n1 of notes (or of table) whole: title (or
// column) x, the other columns NULL.
func insertBatch(table, column string, hlc change.HLC) *codec.Batch {
	c := codec.Clock{HLC: hlc}
	return &codec.Batch{
		First: 0, Last: 1, Sites: []change.SiteID{{9}}, Origin: change.SiteID{9},
		Tables: []codec.Table{{Name: table, Columns: []string{"id", column, "body", "n", "data"}}},
		Changes: []codec.Change{
			{Table: 0, Op: change.Insert, Key: []any{"n1"}, Clock: c, Columns: []int{0, 1, 2, 3, 4},
				Values: []any{"n1", "x", nil, nil, nil}, Clocks: []codec.Clock{c, c, c, c, c}},
		},
	}
}

// TestMergeRefuses checks that a batch the receiver cannot apply exactly is
// refused with its own error and leaves the database as it was.
func TestMergeRefuses(t *testing.T) {
	now := change.HLCAt(time.Now())
	future := change.HLCAt(time.Now().Add(time.Hour))
	for _, tc := range []struct {
		name        string
		batch       *codec.Batch
		fingerprint bool
		want        error
	}{
		{"another schema", insertBatch("notes", "title", now), false, replicator.ErrSchemaMismatch},
		{"unknown table", insertBatch("secrets", "title", now), true, replicator.ErrUnknownTable},
		{"unknown column", insertBatch("notes", "password", now), true, replicator.ErrUnknownColumn},
		{"clock an hour ahead", insertBatch("notes", "title", future), true, replicator.ErrClockSkew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDevice(t, hubs[0].new(t), notes)
			ctx := context.Background()
			before, err := d.s.Node.Log().LastVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.s.Node.Merge(ctx, encode(t, d.s.Node, tc.batch, tc.fingerprint), rules.RoleDevice)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var rows, cursors int
			d.db.Get(&rows, `SELECT count(*) FROM notes`)
			d.db.Get(&cursors, `SELECT count(*) FROM _sync_peers`)
			after, _ := d.s.Node.Log().LastVersion(ctx)
			if rows != 0 || cursors != 0 || after != before {
				t.Errorf("a refused batch changed the database: %d rows, %d cursors, version %d -> %d", rows, cursors, before, after)
			}
		})
	}
}

// TestMergeIdempotent merges one batch three times: the row is written
// once, and the second and third merges log nothing.
func TestMergeIdempotent(t *testing.T) {
	d := newDevice(t, hubs[0].new(t), notes)
	ctx := context.Background()
	frame := encode(t, d.s.Node, insertBatch("notes", "title", change.HLCAt(time.Now())), true)
	var versions []change.Version
	for i := 0; i < 3; i++ {
		res, err := d.s.Node.Merge(ctx, frame, rules.RoleHub)
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, res.Version)
	}
	if versions[0] != 1 || versions[1] != 1 || versions[2] != 1 {
		t.Errorf("versions after each merge: %v, want [1 1 1]", versions)
	}
	if got := dbtestQuery(t, d, `SELECT id || '=' || title FROM notes`); got != "n1=x" {
		t.Errorf("rows: %q", got)
	}
}

func dbtestQuery(t *testing.T, d *testDevice, q string) string {
	t.Helper()
	var s string
	if err := d.db.Get(&s, q); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBulkInsertFallsBack pulls many new rows into a device that already
// holds one of them from before install: the bulk insert of new rows must
// notice and merge that run row by row, so the row gets the newer values.
func TestBulkInsertFallsBack(t *testing.T) {
	h := hubs[0].new(t)
	a := newDevice(t, h, notes)
	b := newDevice(t, h, notes+`INSERT INTO notes VALUES ('n00150', 'old on b', NULL, 0, NULL);`)
	tx := a.db.MustBegin()
	for i := 0; i < 300; i++ {
		tx.MustExec(`INSERT INTO notes VALUES (printf('n%05d', ?), 'from a', NULL, ?, x'01')`, i, i)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	// b merges before its first sync, so its old row has no clock yet.
	frame, err := h.Pull(context.Background(), "app", hub.PullRequest{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.Node.Merge(context.Background(), frame, rules.RoleHub); err != nil {
		t.Fatal(err)
	}
	assertSame(t, a, b)
	if got := dbtestQuery(t, b, `SELECT count(*) || ' ' || sum(title = 'from a') FROM notes`); got != "300 300" {
		t.Errorf("b: %s, want 300 rows all from a (a's write is newer than b's pre-install row)", got)
	}
}

// TestMergeMovesClockPastColumns: a device merges its hub's insert whose
// title was written by a clock a minute ahead (within the skew allowed);
// the device's own later write of title must still order after it, or the
// hub would keep the older write and the device's edit would be lost in
// silence. A device keeps no clocks for the rows it pulls, so only the
// node's clock can carry what it has seen.
func TestMergeMovesClockPastColumns(t *testing.T) {
	d := newDevice(t, hubs[0].new(t), notes)
	ctx := context.Background()
	now := change.HLCAt(time.Now())
	ahead := change.HLCAt(time.Now().Add(time.Minute))
	b := insertBatch("notes", "title", now)
	b.Changes[0].Clocks[1].HLC = ahead // title, written later by a clock that runs ahead
	if _, err := d.s.Node.Merge(ctx, encode(t, d.s.Node, b, true), rules.RoleDevice); err != nil {
		t.Fatal(err)
	}
	mustExec(t, d, `UPDATE notes SET title = 'mine' WHERE id = 'n1'`)
	frame, _, _, err := d.s.Node.Outgoing(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.s.Node.Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range out.Changes {
		for i, col := range c.Columns {
			if out.Tables[c.Table].Columns[col] == "title" && c.Clocks[i].HLC <= ahead {
				t.Errorf("the device's own later write of title has HLC %d, not after the merged %d", c.Clocks[i].HLC, ahead)
			}
		}
	}
}
