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
	db := dbtest.MustOpenDB(t, path)
	// What EnableWAL has to deal with: the switch fails at once, although
	// the connection has a busy timeout of seconds.
	start := time.Now()
	if _, err := db.Exec(`PRAGMA journal_mode = WAL`); err == nil || time.Since(start) > time.Second {
		t.Fatalf("switching while the app writes: %v after %s, want an immediate busy error", err, time.Since(start))
	}

	enabled := make(chan error, 1)
	go func() { enabled <- sqlitefile.EnableWAL(ctx, db, path) }()
	// It cannot succeed while the app's transaction is open; it must still
	// be trying, not have given up, when the app commits.
	select {
	case err := <-enabled:
		t.Fatalf("EnableWAL returned while the app was writing: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("the app's commit: %v", err)
	}
	if err := <-enabled; err != nil {
		t.Fatalf("EnableWAL while the app writes: %v", err)
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
