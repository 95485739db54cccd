package main_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/deltasync/internal/dbtest"
)

// TestAppTriggersEndToEnd: Sakila keeps last_update with triggers of its
// own (last_update = DATETIME('NOW')). After init they still fire for the
// sqlite3 shell's writes, and the row they stamped reaches the other device
// exactly, stamp included, although it is applied there in a later second;
// uninstall gives the schema back byte for byte.
func TestAppTriggersEndToEnd(t *testing.T) {
	dir := t.TempDir()
	h := startHub(t, filepath.Join(dir, "hub"))
	a, b := dbtest.Corpus(t, "sakila")["sakila"], dbtest.Corpus(t, "sakila")["sakila"]
	const schemaRows = `SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name;`
	before := dbtest.Shell(t, a, schemaRows)
	for _, path := range []string{a, b} {
		out := mustRun(t, "init", path).stdout
		if want := "trigger  actor_trigger_au on actor: guarded"; !strings.Contains(out, want) {
			t.Errorf("init printed:\n%s\nwant a line with %q", out, want)
		}
		syncOnce(t, h, path)
	}

	dbtest.Shell(t, a, `INSERT INTO actor VALUES (1, 'ADA', 'LOVELACE', '2000-01-01 00:00:00');`)
	stamp := query(t, a, `SELECT last_update FROM actor WHERE actor_id = 1;`)
	if stamp == "2000-01-01 00:00:00" {
		t.Fatal("the app's trigger did not stamp last_update on the shell's insert")
	}
	syncOnce(t, h, a)
	nextSecond(t, b, stamp)
	syncOnce(t, h, b)
	if got := query(t, b, `SELECT first_name, last_update FROM actor WHERE actor_id = 1;`); got != "ADA|"+stamp {
		t.Errorf("b after the pull: got %q, want %q (a's row exactly)", got, "ADA|"+stamp)
	}

	dbtest.Shell(t, b, `UPDATE actor SET first_name = 'AUGUSTA' WHERE actor_id = 1;`)
	stamp2 := query(t, b, `SELECT last_update FROM actor WHERE actor_id = 1;`)
	if stamp2 <= stamp {
		t.Errorf("last_update after b's update: got %q, want later than %q (the app's trigger fires)", stamp2, stamp)
	}
	syncOnce(t, h, b)
	nextSecond(t, a, stamp2)
	syncOnce(t, h, a)
	if got := query(t, a, `SELECT first_name, last_update FROM actor WHERE actor_id = 1;`); got != "AUGUSTA|"+stamp2 {
		t.Errorf("a after the pull: got %q, want %q (b's row exactly)", got, "AUGUSTA|"+stamp2)
	}
	assertAllEqual(t, a, b, filepath.Join(h.data, "shop.db"))

	for _, path := range []string{a, b} {
		mustRun(t, "uninstall", path)
		if got := dbtest.Shell(t, path, schemaRows); got != before {
			t.Errorf("%s: sqlite_schema after uninstall:\n%s\nwant, as before init:\n%s", filepath.Base(path), got, before)
		}
	}
}

// nextSecond polls the sqlite3 shell until SQLite's DATETIME('now') on
// path is past stamp.
func nextSecond(t *testing.T, path, stamp string) {
	t.Helper()
	eventually(t, 10*time.Second, "SQLite's clock passes "+stamp, func() bool {
		return query(t, path, `SELECT DATETIME('now');`) > stamp
	})
}
