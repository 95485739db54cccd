package changelog_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/internal/dbtest"
)

const notesDDL = `CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, body TEXT, n INTEGER);`

// ops prints each change as "op key cols", the shape coalescing decides.
func ops(b *changelog.Batch) []string {
	var out []string
	for _, c := range b.Changes {
		out = append(out, fmt.Sprintf("%s %v %v", c.Op, c.Key, c.Columns))
	}
	return out
}

func TestReadCoalesces(t *testing.T) {
	cases := []struct {
		name, setup, writes string
		want                []string
	}{
		{"insert then updates stay an insert with the last values", "",
			`INSERT INTO notes VALUES ('a', 't1', 'b1', 1); UPDATE notes SET title = 't2'; UPDATE notes SET n = 3;`,
			[]string{"insert [a] [id title body n]"}},
		{"updates merge their columns", `INSERT INTO notes VALUES ('a', 't', 'b', 1);`,
			`UPDATE notes SET title = 't2'; UPDATE notes SET n = 2; UPDATE notes SET title = 't3';`,
			[]string{"update [a] [title n]"}},
		{"update then delete is a delete", `INSERT INTO notes VALUES ('a', 't', 'b', 1);`,
			`UPDATE notes SET title = 't2'; DELETE FROM notes;`,
			[]string{"delete [a] []"}},
		{"insert then delete is a delete", "",
			`INSERT INTO notes VALUES ('a', 't', 'b', 1); DELETE FROM notes;`,
			[]string{"delete [a] []"}},
		{"delete then insert is an insert", `INSERT INTO notes VALUES ('a', 't', 'b', 1);`,
			`DELETE FROM notes; INSERT INTO notes VALUES ('a', 'new', NULL, 2);`,
			[]string{"insert [a] [id title body n]"}},
		{"rows keep the order of their first write", "",
			`INSERT INTO notes VALUES ('b', 't', 'b', 1); INSERT INTO notes VALUES ('a', 't', 'b', 1); UPDATE notes SET n = 5 WHERE id = 'b';`,
			[]string{"insert [b] [id title body n]", "insert [a] [id title body n]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, db := mustInstall(t, notesDDL+tc.setup)
			dbtest.Shell(t, path, tc.writes)
			b := readAll(t, db)
			if got := ops(b); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadLastValuesAndTime(t *testing.T) {
	path, db := mustInstall(t, notesDDL+`INSERT INTO notes VALUES ('a', 't', 'b', 1);`)
	start := time.Now().Add(-time.Second)
	dbtest.Shell(t, path, `UPDATE notes SET title = 't2'; UPDATE notes SET title = 't3', n = 7;`)
	b := readAll(t, db)
	if len(b.Changes) != 1 {
		t.Fatalf("got %d changes, want 1", len(b.Changes))
	}
	c := b.Changes[0]
	if !reflect.DeepEqual(c.Values, []any{"t3", int64(7)}) {
		t.Errorf("values %v, want [t3 7]", c.Values)
	}
	if c.At.Before(start) || c.At.After(time.Now().Add(time.Second)) {
		t.Errorf("write time %v, want about now", c.At)
	}
	if c.Version != b.Through || b.Through != 3 {
		t.Errorf("change version %d, through %d; want 3 and 3", c.Version, b.Through)
	}
}

func TestReadDeletedLaterBecomesDelete(t *testing.T) {
	path, db := mustInstall(t, notesDDL)
	dbtest.Shell(t, path, `INSERT INTO notes VALUES ('a', 't', 'b', 1); INSERT INTO notes VALUES ('b', 't', 'b', 1); DELETE FROM notes WHERE id = 'a';`)
	b, err := changelog.New(db).Read(context.Background(), 0, 1) // only version 1: the insert of a
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ops(b), []string{"delete [a] []"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q: the row is gone by the time the range is read", got, want)
	}
	if b.Through != 1 {
		t.Errorf("through %d, want 1", b.Through)
	}
}

func TestReadSinceAndLimit(t *testing.T) {
	path, db := mustInstall(t, notesDDL)
	var sql strings.Builder
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&sql, "INSERT INTO notes VALUES ('k%d', 't', 'b', %d);\n", i, i)
	}
	dbtest.Shell(t, path, sql.String())
	l := changelog.New(db)
	var keys []any
	since := change.Version(0)
	for {
		b, err := l.Read(context.Background(), since, 3)
		if err != nil {
			t.Fatal(err)
		}
		if b.Through == since {
			break
		}
		if len(b.Changes) > 3 {
			t.Errorf("limit 3 returned %d changes", len(b.Changes))
		}
		for _, c := range b.Changes {
			keys = append(keys, c.Key[0])
		}
		since = b.Through
	}
	if len(keys) != 10 || keys[0] != "k0" || keys[9] != "k9" {
		t.Errorf("read keys %v in pages of 3, want k0..k9", keys)
	}
}

// TestReadOpsUntil checks that ReadOpsUntilTx reads the same range as a
// Read that stopped at the same version, across the versions of an apply.
func TestReadOpsUntil(t *testing.T) {
	path, db := mustInstall(t, notesDDL)
	ctx := context.Background()
	l := changelog.New(db)
	dbtest.Shell(t, path, `INSERT INTO notes VALUES ('a', 't', 'b', 1); INSERT INTO notes VALUES ('b', 't', 'b', 2); UPDATE notes SET n = 3 WHERE id = 'a';`)
	err := l.ApplyRemote(ctx, change.SiteID{1}, func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`INSERT INTO notes VALUES ('r1', 't', 'b', 1); INSERT INTO notes VALUES ('r2', 't', 'b', 1);`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Shell(t, path, `UPDATE notes SET title = 't2' WHERE id = 'b'; INSERT INTO notes VALUES ('c', 't', 'b', 4); UPDATE notes SET body = 'b2' WHERE id = 'a';`)
	for since := change.Version(0); since < 3; since++ {
		for limit := 1; limit <= 7; limit++ {
			b, err := l.Read(ctx, since, limit)
			if err != nil {
				t.Fatal(err)
			}
			o, err := l.ReadOpsUntilTx(ctx, db, since, b.Through)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ops(o), ops(b); o.Through != b.Through || !reflect.DeepEqual(got, want) {
				t.Errorf("since %d, until %d: got %q through %d, want %q through %d", since, b.Through, got, o.Through, want, b.Through)
			}
		}
	}
}

func TestApplyRemoteIsNotReadAsLocal(t *testing.T) {
	path, db := mustInstall(t, notesDDL+`
		CREATE TABLE audit (note TEXT, what TEXT);
		CREATE TRIGGER note_audit AFTER INSERT ON notes BEGIN INSERT INTO audit VALUES (NEW.id, 'inserted'); END;`)
	ctx := context.Background()
	l := changelog.New(db)
	dbtest.Shell(t, path, `INSERT INTO notes VALUES ('local1', 't', 'b', 1);`)
	origin := change.SiteID{1, 2, 3}
	err := l.ApplyRemote(ctx, origin, func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`INSERT INTO notes VALUES ('remote', 't', 'b', 1); UPDATE notes SET n = 9 WHERE id = 'local1';`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Shell(t, path, `INSERT INTO notes VALUES ('local2', 't', 'b', 1);`)

	b, err := l.Read(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := ops(b)
	for _, c := range b.Changes {
		if c.Key[0] == "remote" {
			t.Errorf("the replayed insert was read as a local change: %q", got)
		}
		if c.Table == "audit" && len(c.Values) > 1 && c.Values[1] == "remote" {
			t.Errorf("what the app's trigger derived from the replayed insert was read as local: %q", got)
		}
	}
	var local int
	for _, c := range b.Changes {
		if c.Table == "notes" {
			local++
		}
	}
	if local != 2 {
		t.Errorf("got %d local note changes %q, want 2 (local1, local2)", local, got)
	}
	if pending, err := l.Pending(ctx); err != nil || pending != 4 {
		t.Errorf("pending %d, %v; want 4 (2 notes, 2 audit rows)", pending, err)
	}
	last, err := l.LastVersion(ctx)
	if err != nil || last != b.Through {
		t.Errorf("last version %d, %v; want %d", last, err, b.Through)
	}
}

func TestApplyRemoteRollsBack(t *testing.T) {
	_, db := mustInstall(t, notesDDL)
	ctx := context.Background()
	l := changelog.New(db)
	boom := errors.New("boom")
	err := l.ApplyRemote(ctx, change.SiteID{1}, func(tx *sqlx.Tx) error {
		if _, err := tx.Exec(`INSERT INTO notes VALUES ('r', 't', 'b', 1)`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the callback's error", err)
	}
	var n int
	if err := db.Get(&n, `SELECT (SELECT count(*) FROM notes) + (SELECT count(*) FROM _sync_changelog) + (SELECT count(*) FROM _sync_applied)`); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d rows left after a failed apply, want 0", n)
	}
}

func TestNotInstalled(t *testing.T) {
	db := dbtest.MustOpenDB(t, dbtest.NewDB(t, notesDDL))
	_, err := changelog.New(db).LastVersion(context.Background())
	if !errors.Is(err, changelog.ErrNotInstalled) {
		t.Errorf("got %v, want ErrNotInstalled", err)
	}
}
