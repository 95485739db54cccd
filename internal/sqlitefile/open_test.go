package sqlitefile_test

import (
	"context"
	"testing"
	"time"

	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/internal/sqlitefile"
)

// TestEnableWALWhileAppWrites: a sidecar starts while the app is in the
// middle of a write transaction. SQLite answers the switch to WAL with
// SQLITE_BUSY at once, without its busy handler (waiting could deadlock),
// so EnableWAL must wait for the app's commit and switch then, not fail.
func TestEnableWALWhileAppWrites(t *testing.T) {
	ctx := context.Background()
	path := dbtest.NewDB(t, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);`)
	app := dbtest.MustOpenDB(t, path)
	tx, err := app.BeginTxx(ctx, nil) // _txlock=immediate: takes the write lock now
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO t (v) VALUES ('written while the sidecar starts')`); err != nil {
		t.Fatal(err)
	}
	committed := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond) // the app is still working when EnableWAL starts
		committed <- tx.Commit()
	}()

	db := dbtest.MustOpenDB(t, path)
	if err := sqlitefile.EnableWAL(ctx, db, path); err != nil {
		t.Fatalf("EnableWAL while the app writes: %v", err)
	}
	if err := <-committed; err != nil {
		t.Fatalf("the app's commit: %v", err)
	}
	var mode string
	if err := db.Get(&mode, `PRAGMA journal_mode`); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q (%v), want wal", mode, err)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM t`); err != nil || n != 1 {
		t.Fatalf("%d rows (%v), want the app's 1", n, err)
	}
}
