package changelog_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
)

// TestApplyRemoteDiscard applies with Discard, small (the rows logged are
// deleted) and large (the inserts are compiled out), on a pool of one
// connection: nothing of the apply stays in the changelog or _sync_applied,
// and the same statements log again afterwards, in and out of ApplyRemote.
func TestApplyRemoteDiscard(t *testing.T) {
	for _, writes := range []int{1, 1 << 20} {
		t.Run(fmt.Sprint("writes=", writes), func(t *testing.T) {
			_, db := mustInstall(t, notesDDL+`
				CREATE TABLE audit (note TEXT, what TEXT);
				CREATE TRIGGER note_audit AFTER INSERT ON notes BEGIN INSERT INTO audit VALUES (NEW.id, 'inserted'); END;`)
			db.SetMaxOpenConns(1) // every statement below runs on the connection the apply used
			ctx := context.Background()
			l := changelog.New(db)
			const insert = `INSERT INTO notes VALUES (?, 't', 'b', 1)`
			mustExec(t, db, insert, "local1")
			before, err := l.LastVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = l.ApplyRemoteWith(ctx, change.SiteID{1}, changelog.ApplyOptions{Discard: true, Writes: writes}, func(tx *sqlx.Tx) error {
				for _, q := range []string{insert, `UPDATE notes SET n = 9 WHERE id = ?`} {
					if _, err := tx.Exec(q, "remote"); err != nil {
						return err
					}
				}
				_, err := tx.Exec(`INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 2, 'remote')`)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if after, err := l.LastVersion(ctx); err != nil || after != before {
				t.Errorf("last version %d (%v) after a discarded apply, want %d", after, err, before)
			}
			if n := count(t, db, `SELECT count(*) FROM _sync_applied`); n != 0 {
				t.Errorf("%d applied ranges after a discarded apply, want 0", n)
			}
			if n := count(t, db, `SELECT count(*) FROM notes WHERE id = 'remote' AND n = 9`); n != 1 {
				t.Errorf("the apply's writes are not there: %d rows", n)
			}

			mustExec(t, db, insert, "local2")
			err = l.ApplyRemote(ctx, change.SiteID{2}, func(tx *sqlx.Tx) error {
				_, err := tx.Exec(insert, "remote2")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := count(t, db, `SELECT count(*) FROM _sync_applied`); n != 1 {
				t.Errorf("%d applied ranges after an apply that keeps its log, want 1", n)
			}
			// local1 and local2, each with the audit row the app's trigger
			// wrote, and the kept apply's insert: the app's trigger writes a
			// tracked table, so install guarded it and it did not fire again.
			if n := count(t, db, `SELECT count(*) FROM _sync_changelog`); n != 5 {
				t.Errorf("%d changelog rows, want 5 (2 local inserts and their audit rows, and the kept apply's 1)", n)
			}
			b, err := l.Read(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			var keys []any
			for _, c := range b.Changes {
				if c.Table == "notes" {
					keys = append(keys, c.Key[0])
				}
			}
			if fmt.Sprint(keys) != "[local1 local2]" {
				t.Errorf("local note changes %v, want [local1 local2]", keys)
			}
			if pending, err := l.Pending(ctx); err != nil || pending != 4 {
				t.Errorf("pending %d, %v; want 4", pending, err)
			}
		})
	}
}

// TestApplyRemoteDiscardRollsBack: a failed discarding apply leaves nothing,
// and the connection logs again.
func TestApplyRemoteDiscardRollsBack(t *testing.T) {
	_, db := mustInstall(t, notesDDL)
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	l := changelog.New(db)
	boom := errors.New("boom")
	const insert = `INSERT INTO notes VALUES (?, 't', 'b', 1)`
	err := l.ApplyRemoteWith(ctx, change.SiteID{1}, changelog.ApplyOptions{Discard: true, Writes: 1 << 20}, func(tx *sqlx.Tx) error {
		if _, err := tx.Exec(insert, "r"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the callback's error", err)
	}
	if n := count(t, db, `SELECT (SELECT count(*) FROM notes) + (SELECT count(*) FROM _sync_changelog) + (SELECT count(*) FROM _sync_applied)`); n != 0 {
		t.Errorf("%d rows left after a failed apply, want 0", n)
	}
	mustExec(t, db, insert, "local")
	if n := count(t, db, `SELECT count(*) FROM _sync_changelog`); n != 1 {
		t.Errorf("a local insert after a failed apply logged %d rows, want 1", n)
	}
}

func mustExec(t *testing.T, db *sqlx.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, db *sqlx.DB, q string) int {
	t.Helper()
	var n int
	if err := db.Get(&n, q); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestApplyRemoteBulkTempStore: a bulk apply keeps its statement journals
// in memory (temp_store MEMORY) and gives the connection back as it was;
// a connection with temporary tables keeps them, and its temp_store.
func TestApplyRemoteBulkTempStore(t *testing.T) {
	_, db := mustInstall(t, notesDDL)
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	l := changelog.New(db)
	apply := func(key string) int {
		var during int
		err := l.ApplyRemoteWith(ctx, change.SiteID{1}, changelog.ApplyOptions{Writes: 1 << 20}, func(tx *sqlx.Tx) error {
			if err := tx.Get(&during, `PRAGMA temp_store`); err != nil {
				return err
			}
			_, err := tx.Exec(`INSERT INTO notes VALUES (?, 't', 'b', 1)`, key)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return during
	}
	if during := apply("a"); during != 2 {
		t.Errorf("temp_store %d during a bulk apply, want 2 (MEMORY)", during)
	}
	if n := count(t, db, `PRAGMA temp_store`); n != 0 {
		t.Errorf("temp_store %d after a bulk apply, want 0 as before", n)
	}
	mustExec(t, db, `CREATE TEMP TABLE scratch (x)`)
	if during := apply("b"); during != 0 {
		t.Errorf("temp_store %d during a bulk apply on a connection with a temporary table, want 0 (left as it was)", during)
	}
	if n := count(t, db, `SELECT count(*) FROM temp.sqlite_schema WHERE name = 'scratch'`); n != 1 {
		t.Error("a bulk apply dropped the connection's temporary table")
	}
}

// TestApplyRemoteCacheSize: a bulk apply with CacheKiB runs with that page
// cache and leaves its connection with the one it had; a small one keeps
// the connection's.
func TestApplyRemoteCacheSize(t *testing.T) {
	_, db := mustInstall(t, notesDDL)
	db.SetMaxOpenConns(1) // every statement below runs on the connection the apply used
	ctx := context.Background()
	mustExec(t, db, `PRAGMA cache_size = -2048`)
	for _, tc := range []struct{ writes, want int }{{1 << 20, -65536}, {1, -2048}} {
		var during int
		opt := changelog.ApplyOptions{CacheKiB: 65536, Writes: tc.writes}
		err := changelog.New(db).ApplyRemoteWith(ctx, change.SiteID{1}, opt, func(tx *sqlx.Tx) error {
			return tx.Get(&during, `PRAGMA cache_size`)
		})
		if err != nil {
			t.Fatal(err)
		}
		if after := count(t, db, `PRAGMA cache_size`); during != tc.want || after != -2048 {
			t.Errorf("%d writes: cache_size during the apply %d, after %d; want %d, -2048", tc.writes, during, after, tc.want)
		}
	}
}
