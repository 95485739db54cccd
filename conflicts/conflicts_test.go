package conflicts_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/conflicts"
	"github.com/deltasync/deltasync/internal/dbtest"
)

var other = change.SiteID{0xee}

// MustOpenNode installs deltasync on a database holding row r1 of t and
// returns it with its site id.
func MustOpenNode(tb testing.TB) (string, *sqlx.DB, change.SiteID) {
	tb.Helper()
	path, db := dbtest.MustInstall(tb, `CREATE TABLE t (id TEXT PRIMARY KEY, a TEXT, b TEXT);
		INSERT INTO t VALUES ('r1', 'B', 'b0');`)
	self, err := changelog.New(db).SiteID(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return path, db, self
}

// MustRecord records es as one event in one transaction and returns the ids Record gave.
func MustRecord(tb testing.TB, db *sqlx.DB, es ...conflicts.Entry) []int64 {
	tb.Helper()
	tx, err := db.Beginx()
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	var ids []int64
	var event int64
	for _, e := range es {
		e.Event = event
		id, err := conflicts.Record(context.Background(), tx, e)
		if err != nil {
			tb.Fatal(err)
		}
		if event == 0 {
			event = id
		}
		ids = append(ids, id)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return ids
}

// update is the loss of self's write of column a of r1 to other's.
func update(self change.SiteID, col, lost, won string) conflicts.Entry {
	return conflicts.Entry{Table: "t", Key: []any{"r1"}, Kind: "update", Version: 7, Column: conflicts.Column{
		Column: col, Lost: lost, Won: won,
		LostClock: change.Clock{HLC: 10, Site: self}, WonClock: change.Clock{HLC: 20, Site: other}}}
}

// TestRecord: an event's values share its first id, a value recorded
// before is recorded once, and List, Unresolved and Notices read them back.
func TestRecord(t *testing.T) {
	ctx := context.Background()
	_, db, self := MustOpenNode(t)
	ids := MustRecord(t, db, update(self, "a", "A", "B"), update(self, "b", "x", "y"))
	if ids[0] == 0 || ids[1] == 0 || ids[0] == ids[1] {
		t.Fatalf("got ids %v, want two different ids", ids)
	}
	if again := MustRecord(t, db, update(self, "a", "A", "B")); again[0] != 0 {
		t.Errorf("recording a loss again: got id %d, want 0", again[0])
	}
	cs, err := conflicts.List(ctx, db, conflicts.Filter{Table: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].ID != ids[0] || len(cs[0].Columns) != 2 || cs[0].Kind != "update" || len(cs[0].Key) != 1 || cs[0].Key[0] != "r1" {
		t.Fatalf("got %+v, want one update of r1 with two columns, id %d", cs, ids[0])
	}
	if got := cs[0].Columns[1]; got.Column != "b" || got.Lost != "x" || got.Won != "y" || got.LostClock.Site != self || got.WonClock.HLC != 20 {
		t.Errorf("got column %+v, want b: x lost to y", got)
	}
	if n, err := conflicts.Unresolved(ctx, db); err != nil || n != 1 {
		t.Errorf("got %d unresolved (%v), want 1", n, err)
	}
	for _, tc := range []struct {
		site           change.SiteID
		after, through change.Version
		want           int
	}{
		{self, 6, 7, 2}, {self, 7, 8, 0}, {self, 0, 6, 0}, {other, 0, 10, 0},
	} {
		ns, err := conflicts.Notices(ctx, db, tc.site, tc.after, tc.through)
		if err != nil || len(ns) != tc.want {
			t.Errorf("notices of %x in (%d, %d]: got %d (%v), want %d", tc.site[:1], tc.after, tc.through, len(ns), err, tc.want)
		}
	}
}

// TestResolve: keeping this node's side writes it into the app's row and
// marks the conflict resolved; an unknown id is ErrNoConflict.
func TestResolve(t *testing.T) {
	ctx := context.Background()
	path, db, self := MustOpenNode(t)
	ids := MustRecord(t, db, update(self, "a", "A", "B"))
	if err := conflicts.Resolve(ctx, db, self, ids[0]+1, conflicts.Keep{Side: "local"}); !errors.Is(err, conflicts.ErrNoConflict) {
		t.Errorf("resolving an unknown id: got %v, want ErrNoConflict", err)
	}
	if err := conflicts.Resolve(ctx, db, self, ids[0], conflicts.Keep{Side: "local"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(dbtest.Shell(t, path, `SELECT id, a, b FROM t;`)); got != "r1|A|b0" {
		t.Errorf("got row %q, want r1|A|b0", got)
	}
	cs, err := conflicts.List(ctx, db, conflicts.Filter{Events: ids})
	if err != nil || len(cs) != 1 || cs[0].Resolved.IsZero() || cs[0].Resolution != "local" {
		t.Errorf("got %+v (%v), want one conflict resolved with local", cs, err)
	}
	if n, err := conflicts.Unresolved(ctx, db); err != nil || n != 0 {
		t.Errorf("got %d unresolved (%v), want 0", n, err)
	}
}

// TestClear deletes the conflicts recorded before a time, every column of
// each, and counts conflicts, not columns.
func TestClear(t *testing.T) {
	ctx := context.Background()
	_, db, self := MustOpenNode(t)
	MustRecord(t, db, update(self, "a", "A", "B"), update(self, "b", "x", "y"))
	if n, err := conflicts.Clear(ctx, db, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("clear before an hour ago: got %d (%v), want 0", n, err)
	}
	if n, err := conflicts.Clear(ctx, db, time.Time{}); err != nil || n != 1 {
		t.Errorf("clear all: got %d (%v), want 1", n, err)
	}
	if cs, err := conflicts.List(ctx, db, conflicts.Filter{}); err != nil || len(cs) != 0 {
		t.Errorf("after clear: got %+v (%v), want none", cs, err)
	}
}

// TestNotKept: a database installed before conflicts were recorded has no
// _sync_conflicts, and none to list, count or clear.
func TestNotKept(t *testing.T) {
	ctx := context.Background()
	_, db, _ := MustOpenNode(t)
	if _, err := db.Exec(`DROP TABLE _sync_conflicts`); err != nil {
		t.Fatal(err)
	}
	if cs, err := conflicts.List(ctx, db, conflicts.Filter{}); err != nil || cs != nil {
		t.Errorf("List: got %+v (%v), want none", cs, err)
	}
	if n, err := conflicts.Unresolved(ctx, db); err != nil || n != 0 {
		t.Errorf("Unresolved: got %d (%v), want 0", n, err)
	}
	if n, err := conflicts.Clear(ctx, db, time.Time{}); err != nil || n != 0 {
		t.Errorf("Clear: got %d (%v), want 0", n, err)
	}
}
