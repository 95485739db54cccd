package triggers_test

import (
	"context"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// appDDL has an app trigger of each kind: one keeping a last_update column,
// one maintaining an FTS index (not tracked), and one validating.
const appDDL = `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, last_update TEXT);
CREATE VIRTUAL TABLE notes_fts USING fts4(body);
CREATE TRIGGER notes_touch AFTER UPDATE OF body ON notes BEGIN
  UPDATE notes SET last_update = 'app ' || new.body WHERE id = new.id;
END;
CREATE TRIGGER notes_index AFTER INSERT ON notes BEGIN INSERT INTO notes_fts (docid, body) VALUES (new.id, new.body); END;
CREATE TRIGGER notes_check BEFORE INSERT ON notes WHEN new.body = '' BEGIN SELECT RAISE(ABORT, 'empty note'); END;`

// TestAppTriggersDoNotFireOnApply: a guarded app trigger fires for the
// sqlite3 shell's writes and not for an apply's; a trigger that maintains
// an untracked table (an FTS index) fires for both.
func TestAppTriggersDoNotFireOnApply(t *testing.T) {
	path, db := mustInstall(t, appDDL)
	ctx := context.Background()
	dbtest.Shell(t, path, `INSERT INTO notes VALUES (1, 'one', NULL); UPDATE notes SET body = 'uno' WHERE id = 1;`)
	if got := queryString(t, db, `SELECT last_update FROM notes WHERE id = 1`); got != "app uno" {
		t.Errorf("last_update after the shell's update: got %q, want %q (the app's trigger fires)", got, "app uno")
	}
	err := changelog.New(db).ApplyRemote(ctx, change.SiteID{1}, func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`INSERT INTO notes VALUES (2, '', 'origin 2');
			UPDATE notes SET body = 'eins', last_update = 'origin 1' WHERE id = 1`)
		return err
	})
	if err != nil {
		t.Fatalf("apply: %v (the validation trigger must not judge a replayed row)", err)
	}
	if got := queryString(t, db, `SELECT group_concat(last_update, '|') FROM (SELECT last_update FROM notes ORDER BY id)`); got != "origin 1|origin 2" {
		t.Errorf("last_update after an apply: got %q, want %q (the origin's values)", got, "origin 1|origin 2")
	}
	if got := queryString(t, db, `SELECT group_concat(docid) FROM notes_fts`); got != "1,2" {
		t.Errorf("FTS index after an apply: got docids %q, want %q (the index trigger fires on replay)", got, "1,2")
	}
	if n := queryString(t, db, `SELECT count(*) FROM _sync_applying`); n != "0" {
		t.Errorf("_sync_applying after an apply: got %s rows, want 0", n)
	}
	dbtest.Shell(t, path, `UPDATE notes SET body = 'deux' WHERE id = 2;`)
	if got := queryString(t, db, `SELECT last_update FROM notes WHERE id = 2`); got != "app deux" {
		t.Errorf("last_update after the shell's update after an apply: got %q, want %q", got, "app deux")
	}
	out := shellFails(t, path, `INSERT INTO notes VALUES (3, '', NULL);`)
	if !strings.Contains(out, "empty note") {
		t.Errorf("the shell's invalid insert: got %q, want the app's RAISE", out)
	}
}

// TestAppTriggersInstallTwiceAndUninstall: a second install changes no
// byte; uninstall gives back the schema byte for byte, with every table's
// triggers in their order.
func TestAppTriggersInstallTwiceAndUninstall(t *testing.T) {
	for _, tc := range append(appTriggerCases, struct{ name, ddl string }{"app", appDDL}) {
		t.Run(tc.name, func(t *testing.T) {
			path := dbtest.NewDB(t, tc.ddl)
			db := dbtest.MustOpenDB(t, path)
			before, order := dbtest.SchemaRows(t, db), triggerOrder(t, db)
			ctx := context.Background()
			if _, err := triggers.Install(ctx, db, schema.Filter{}); err != nil {
				t.Fatal(err)
			}
			if got := triggerOrder(t, db); !reflect.DeepEqual(got, order) {
				t.Errorf("app triggers by table after install: got %v, want %v (their order)", got, order)
			}
			file := mustRead(t, path)
			rep, err := triggers.Install(ctx, db, schema.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range rep.AppTriggers {
				if a.Changed {
					t.Errorf("second install changed trigger %s", a.Name)
				}
			}
			if string(mustRead(t, path)) != string(file) {
				t.Error("second install changed the database file")
			}
			for i := 0; i < 2; i++ { // twice: uninstall is idempotent
				if err := triggers.Uninstall(ctx, db); err != nil {
					t.Fatal(err)
				}
			}
			if after := dbtest.SchemaRows(t, db); !reflect.DeepEqual(after, before) {
				t.Errorf("schema after uninstall:\n%s\nwant:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
			}
			if got := triggerOrder(t, db); !reflect.DeepEqual(got, order) {
				t.Errorf("app triggers by table after uninstall: got %v, want %v", got, order)
			}
		})
	}
}

// TestAppTriggerChangedByApp: a trigger the app created again since init is
// guarded anew, once, and uninstall leaves the app's new text.
func TestAppTriggerChangedByApp(t *testing.T) {
	path, db := mustInstall(t, appDDL)
	ctx := context.Background()
	const changed = `CREATE TRIGGER notes_touch AFTER UPDATE OF body ON notes BEGIN
  UPDATE notes SET last_update = 'v2 ' || new.body WHERE id = new.id;
END`
	dbtest.Shell(t, path, `DROP TRIGGER notes_touch; `+changed+`;`)
	for i := 0; i < 2; i++ {
		rep, err := triggers.Install(ctx, db, schema.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if a := appTrigger(t, rep, "notes_touch"); a.Changed != (i == 0) || !a.Guarded {
			t.Errorf("install %d: notes_touch changed %v, guarded %v; want changed %v, guarded", i+1, a.Changed, a.Guarded, i == 0)
		}
	}
	got := triggerSQL(t, db)["notes_touch"]
	if want, _ := triggers.Guard(changed); got != want {
		t.Errorf("notes_touch after init:\n%s\nwant the app's new text guarded once:\n%s", got, want)
	}
	if err := triggers.Uninstall(ctx, db); err != nil {
		t.Fatal(err)
	}
	if got := triggerSQL(t, db)["notes_touch"]; got != changed {
		t.Errorf("notes_touch after uninstall:\n%s\nwant the app's new text:\n%s", got, changed)
	}
}

// TestAppTriggerFollowsSelection: a trigger whose tables are all excluded
// from sync gets its own text back, and its guard again when they return.
func TestAppTriggerFollowsSelection(t *testing.T) {
	path := dbtest.NewDB(t, appDDL)
	db := dbtest.MustOpenDB(t, path)
	app := triggerSQL(t, db)["notes_touch"]
	ctx := context.Background()
	for _, f := range []schema.Filter{{}, {Exclude: []string{"notes"}}, {}} {
		rep, err := triggers.Install(ctx, db, f)
		if err != nil {
			t.Fatal(err)
		}
		want := app
		if len(f.Exclude) == 0 {
			want, _ = triggers.Guard(app)
		}
		if got := triggerSQL(t, db)["notes_touch"]; got != want {
			t.Errorf("exclude %v: notes_touch is\n%s\nwant\n%s", f.Exclude, got, want)
		}
		if a := appTrigger(t, rep, "notes_touch"); a.Guarded != (len(f.Exclude) == 0) {
			t.Errorf("exclude %v: notes_touch guarded %v", f.Exclude, a.Guarded)
		}
	}
}

// TestGuardRefuses: text that is no CREATE TRIGGER is an error, not a guess.
func TestGuardRefuses(t *testing.T) {
	for _, sql := range []string{
		`CREATE TABLE t (a)`,
		`CREATE TRIGGER t AFTER INSERT ON x SELECT 1; END`,
		`CREATE TRIGGER t AFTER INSERT ON x WHEN 1 SELECT 1; END`,
		`CREATE TRIGGER t AFTER INSERT ON x BEGIN INSERT x VALUES (1); END`,
		`CREATE TRIGGER "t AFTER INSERT ON x BEGIN SELECT 1; END`,
	} {
		if got, err := triggers.Guard(sql); err == nil {
			t.Errorf("Guard(%q): got %q, want an error", sql, got)
		}
	}
}

func appTrigger(t *testing.T, rep *triggers.Report, name string) triggers.AppTrigger {
	t.Helper()
	for _, a := range rep.AppTriggers {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("install reported no app trigger %s", name)
	return triggers.AppTrigger{}
}

// triggerOrder lists each table's app triggers in creation order, which is
// the order SQLite fires them in (newest first).
func triggerOrder(t *testing.T, db *sqlx.DB) map[string][]string {
	t.Helper()
	var rows []struct{ Name, Tbl string }
	err := db.Select(&rows, `SELECT name, tbl_name AS tbl FROM sqlite_schema
		WHERE type = 'trigger' AND name NOT GLOB '_sync_[0-9]*_*' ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		out[r.Tbl] = append(out[r.Tbl], r.Name)
	}
	return out
}

func queryString(t *testing.T, db *sqlx.DB, q string) string {
	t.Helper()
	var s string
	if err := db.Get(&s, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

// shellFails runs sql through the sqlite3 shell, which must fail, and
// returns what it printed.
func shellFails(t *testing.T, path, sql string) string {
	t.Helper()
	out, err := exec.Command(dbtest.SQLite3(t), "-bail", path, sql).CombinedOutput()
	if err == nil {
		t.Errorf("sqlite3 %q: got success, want an error", sql)
	}
	return string(out)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
