package triggers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// appTriggerCases are app schemas with triggers of their own, hostile ones
// among them. Each is created by the sqlite3 shell and installed; what
// Install made of every app trigger is compared with testdata/guard_<name>.sql.
var appTriggerCases = []struct {
	name string
	ddl  string
}{
	{"last_update", `CREATE TABLE actor (actor_id INTEGER PRIMARY KEY, name TEXT, last_update TIMESTAMP);
CREATE TRIGGER actor_trigger_ai AFTER INSERT ON actor
 BEGIN
  UPDATE actor SET last_update = DATETIME('NOW')  WHERE rowid = new.rowid;
 END
;
CREATE TRIGGER actor_trigger_au AFTER UPDATE ON actor
 BEGIN
  UPDATE actor SET last_update = DATETIME('NOW')  WHERE rowid = new.rowid;
 END
;`},
	{"when_upsert", `CREATE TABLE files (id INTEGER PRIMARY KEY, dev INTEGER, flags INTEGER, size INTEGER);
CREATE TABLE counts (dev INTEGER, flags INTEGER, n INTEGER, size INTEGER, PRIMARY KEY (dev, flags));
CREATE TRIGGER IF NOT EXISTS counts_update AFTER UPDATE OF flags ON files
WHEN NEW.flags != OLD.flags OR NEW.size IS NULL -- the app's comment
BEGIN
    INSERT INTO counts (dev, flags, n, size) VALUES (NEW.dev, NEW.flags, 1, NEW.size)
        ON CONFLICT DO UPDATE SET n = n + 1, size = size + NEW.size;
    UPDATE counts SET n = n - 1 WHERE dev = OLD.dev AND flags = OLD.flags;
END;
CREATE TRIGGER counts_delete AFTER DELETE ON files FOR EACH ROW WHEN(OLD.size>0)BEGIN
    UPDATE OR IGNORE counts SET n = n - 1 WHERE dev = OLD.dev AND flags = OLD.flags;
END;`},
	{"hostile_names", `CREATE TABLE "my ""odd"" 'table'" ("begin" TEXT PRIMARY KEY, [when] INTEGER, "end;" TEXT);
CREATE TABLE [order] ([select] TEXT PRIMARY KEY, note TEXT);
CREATE TRIGGER "tr ""x"" BEGIN" AFTER UPDATE OF "begin", [when] ON "my ""odd"" 'table'"
  FOR EACH ROW WHEN new.begin <> 'BEGIN' AND (SELECT count(*) FROM [order] WHERE "select" = 'END') = 0
  BEGIN
    /* BEGIN ... END; inside a comment */
    INSERT OR REPLACE INTO [order] ([select], note) SELECT new."begin", "update" FROM (SELECT 'x;y' AS "update");
    REPLACE INTO "order" VALUES ('END;', 'BEGIN'); -- END;
  END;
CREATE TRIGGER [when] BEFORE DELETE ON [order] BEGIN DELETE FROM 'my "odd" ''table''' WHERE "begin" = old."select"; END;`},
	{"unicode", `CREATE TABLE "Ünïcødé 表" ("ключ" TEXT PRIMARY KEY, "値" TEXT, "更新" TEXT);
CREATE TRIGGER "触发器 🎉" AFTER INSERT ON "Ünïcødé 表" BEGIN UPDATE "Ünïcødé 表" SET "更新" = 'jetzt' WHERE "ключ" = NEW."ключ"; END;`},
	{"untracked_mixed_validation", `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, edited INTEGER);
CREATE TABLE history (note INTEGER, body TEXT);
CREATE VIRTUAL TABLE notes_fts USING fts4(body);
CREATE VIEW recent AS SELECT * FROM notes;
CREATE TRIGGER notes_fts_ai AFTER INSERT ON notes BEGIN INSERT INTO notes_fts (docid, body) VALUES (new.id, new.body); END;
CREATE TRIGGER notes_mixed AFTER UPDATE OF body ON notes BEGIN
  INSERT INTO history VALUES (old.id, old.body);
  UPDATE notes_fts SET body = new.body WHERE docid = new.id;
END;
CREATE TRIGGER notes_check BEFORE INSERT ON notes WHEN new.body = '' BEGIN SELECT RAISE(ABORT, 'empty note'); END;
CREATE TRIGGER recent_ins INSTEAD OF INSERT ON recent BEGIN INSERT INTO notes (body) VALUES (new.body); END;
CREATE TRIGGER history_view AFTER INSERT ON history BEGIN INSERT INTO recent (body) VALUES (new.body); END;`},
}

func TestGuardGolden(t *testing.T) {
	for _, tc := range appTriggerCases {
		t.Run(tc.name, func(t *testing.T) {
			path := dbtest.NewDB(t, tc.ddl)
			db := dbtest.MustOpenDB(t, path)
			app := triggerSQL(t, db)
			rep, err := triggers.Install(context.Background(), db, schema.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			installed := triggerSQL(t, db)
			var got strings.Builder
			for _, a := range rep.AppTriggers {
				checkPure(t, a, app[a.Name], installed[a.Name])
				fmt.Fprintf(&got, "-- %s on %s: writes [%s]; %s\n", a.Name, a.Table, strings.Join(a.Writes, ", "), decision(a))
				if a.Warning != "" {
					fmt.Fprintf(&got, "-- warning: %s\n", a.Warning)
				}
				got.WriteString(installed[a.Name] + ";\n\n")
			}
			golden := filepath.Join("testdata", "guard_"+tc.name+".sql")
			if *update {
				if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./triggers -update to create it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("guarded SQL differs from %s (go test ./triggers -update rewrites it)\ngot:\n%s\nwant:\n%s", golden, got.String(), want)
			}
		})
	}
}

// checkPure: what Install put in the schema is Guard of the app's text for
// a guarded trigger, and the app's text itself otherwise.
func checkPure(t *testing.T, a triggers.AppTrigger, app, installed string) {
	t.Helper()
	want := app
	if a.Guarded {
		var err error
		if want, err = triggers.Guard(app); err != nil {
			t.Fatalf("Guard(%q): %v", app, err)
		}
	}
	if installed != want {
		t.Errorf("trigger %s: installed\n%s\nwant\n%s", a.Name, installed, want)
	}
}

func decision(a triggers.AppTrigger) string {
	if a.Guarded {
		return "guarded"
	}
	return "fires on replay"
}

// triggerSQL returns the text of every trigger that is not deltasync's, by name.
func triggerSQL(t *testing.T, db *sqlx.DB) map[string]string {
	t.Helper()
	var rows []struct{ Name, SQL string }
	if err := db.Select(&rows, `SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND name NOT GLOB '_sync_[0-9]*_*'`); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.Name] = r.SQL
	}
	return out
}
