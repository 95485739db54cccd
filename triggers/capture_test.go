package triggers_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// mustInstall creates a database with ddl through the sqlite3 shell and installs capture on it.
func mustInstall(t *testing.T, ddl string) (string, *sqlx.DB) {
	t.Helper()
	return dbtest.MustInstall(t, ddl)
}

// summary prints changes one per line, without versions and times, for comparison.
func summary(t *testing.T, db *sqlx.DB) []string {
	t.Helper()
	b, err := changelog.New(db).Read(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range b.Changes {
		s := fmt.Sprintf("%s %s %s", c.Op, c.Table, vals(c.Key))
		for i, col := range c.Columns {
			s += fmt.Sprintf(" %s=%s", col, strings.Trim(vals([]any{c.Values[i]}), "[]"))
		}
		out = append(out, s)
	}
	return out
}

func vals(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		switch v := v.(type) {
		case []byte:
			parts[i] = fmt.Sprintf("x'%x'", v)
		case string:
			parts[i] = fmt.Sprintf("%q", v)
		default:
			parts[i] = fmt.Sprintf("%v(%T)", v, v)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func assertChanges(t *testing.T, db *sqlx.DB, want ...string) {
	t.Helper()
	got := summary(t, db)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes:\ngot:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestCaptureHostileNames(t *testing.T) {
	cases := []struct {
		name, ddl, writes string
		want              []string
	}{
		{
			name: "spaces and quotes",
			ddl:  `CREATE TABLE "my ""odd"" 'table'" ("the key" TEXT PRIMARY KEY, "it's" TEXT, "say ""hi""" INT);`,
			writes: `INSERT INTO "my ""odd"" 'table'" VALUES ('k1', 'a', 1), ('k2', 'b', 2);
				UPDATE "my ""odd"" 'table'" SET "say ""hi""" = 5 WHERE "the key" = 'k1';
				UPDATE "my ""odd"" 'table'" SET "the key" = 'k3' WHERE "the key" = 'k2';`,
			want: []string{
				`insert my "odd" 'table' ["k1"] the key="k1" it's="a" say "hi"=5(int64)`,
				`delete my "odd" 'table' ["k2"]`,
				`insert my "odd" 'table' ["k3"] the key="k3" it's="b" say "hi"=2(int64)`,
			},
		},
		{
			name: "brackets and keywords",
			ddl:  `CREATE TABLE [order] ([select] TEXT, [group] INTEGER, [where] REAL, PRIMARY KEY ([select], [group])) WITHOUT ROWID;`,
			writes: `INSERT INTO [order] VALUES ('a', 1, 0.5);
				UPDATE [order] SET [where] = 1.5;
				DELETE FROM [order];
				INSERT INTO [order] VALUES ('b', 2, NULL);`,
			want: []string{
				`delete order ["a",1(int64)]`,
				`insert order ["b",2(int64)] select="b" group=2(int64) where=<nil>(<nil>)`,
			},
		},
		{
			name:   "unicode",
			ddl:    `CREATE TABLE "Ünïcødé 表" ("ключ" TEXT PRIMARY KEY, "値" TEXT, "emoji 🎉" BLOB);`,
			writes: `INSERT INTO "Ünïcødé 表" VALUES ('κ', 'ü', x'f09f8e89'); UPDATE "Ünïcødé 表" SET "値" = '表';`,
			want:   []string{`insert Ünïcødé 表 ["κ"] ключ="κ" 値="表" emoji 🎉=x'f09f8e89'`},
		},
		{
			name: "columns named rowid and oid",
			ddl:  `CREATE TABLE t ("rowid" TEXT, "oid" INTEGER, v TEXT);`,
			writes: `INSERT INTO t VALUES ('not the rowid', 7, 'x');
				UPDATE t SET "rowid" = 'still not', "oid" = 8 WHERE _rowid_ = 1;`,
			want: []string{`insert t [1(int64)] rowid="still not" oid=8(int64) v="x"`},
		},
		{
			name: "oid column in a composite key",
			ddl:  `CREATE TABLE graves (oid INTEGER NOT NULL, type INTEGER NOT NULL, usn INTEGER NOT NULL, PRIMARY KEY (oid, type)) WITHOUT ROWID;`,
			writes: `INSERT INTO graves VALUES (10, 1, 0), (11, 2, 0);
				DELETE FROM graves WHERE oid = 11;`,
			want: []string{
				`insert graves [10(int64),1(int64)] oid=10(int64) type=1(int64) usn=0(int64)`,
				`delete graves [11(int64),2(int64)]`,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, db := mustInstall(t, tc.ddl)
			dbtest.Shell(t, path, tc.writes)
			assertChanges(t, db, tc.want...)
		})
	}
}

func TestCaptureUpdates(t *testing.T) {
	path, db := mustInstall(t, `CREATE TABLE n (k TEXT PRIMARY KEY COLLATE NOCASE, v TEXT COLLATE NOCASE, u, w INT);
		INSERT INTO n VALUES ('a', 'abc', 1, 1), ('b', 'x', 2, 2), ('c', 'same', 3, 3);`)
	dbtest.Shell(t, path, `
		UPDATE n SET v = 'ABC' WHERE k = 'a';           -- equal under NOCASE, still a change
		UPDATE n SET u = 2.0 WHERE k = 'b';             -- equal as numbers, but INTEGER became REAL
		UPDATE n SET v = 'same', u = 3, w = 3 WHERE k = 'c'; -- sets every column to what it was
	`)
	assertChanges(t, db,
		`update n ["a"] v="ABC"`,
		`update n ["b"] u=2(float64)`,
	)
}

func TestCaptureCascadesAndAppTriggers(t *testing.T) {
	path, db := mustInstall(t, `PRAGMA foreign_keys = ON;
		CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
		CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE);
		CREATE TABLE counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
		INSERT INTO counts VALUES ('child', 0);
		CREATE TRIGGER child_count AFTER INSERT ON child BEGIN
			UPDATE counts SET n = n + 1 WHERE name = 'child';
		END;
		INSERT INTO parent VALUES (1, 'p1'), (2, 'p2');`)
	dbtest.Shell(t, path, `PRAGMA foreign_keys = ON;
		INSERT INTO child VALUES (10, 1), (20, 2);
		UPDATE parent SET id = 3 WHERE id = 2;   -- ON UPDATE CASCADE rewrites child 20
		DELETE FROM parent WHERE id = 1;         -- ON DELETE CASCADE deletes child 10
	`)
	assertChanges(t, db,
		`delete child [10(int64)]`,
		`update counts ["child"] n=2(int64)`,
		`insert child [20(int64)] id=20(int64) parent=3(int64)`,
		`delete parent [2(int64)]`,
		`insert parent [3(int64)] id=3(int64) name="p2"`,
		`delete parent [1(int64)]`,
	)
}

func TestCaptureSkipsGeneratedColumns(t *testing.T) {
	path, db := mustInstall(t, `CREATE TABLE g (id TEXT PRIMARY KEY, a INT, b INT GENERATED ALWAYS AS (a * 2) VIRTUAL, c TEXT AS (upper(id)) STORED);`)
	dbtest.Shell(t, path, `INSERT INTO g (id, a) VALUES ('x', 1); INSERT INTO g (id, a) VALUES ('y', 1); UPDATE g SET a = 5 WHERE id = 'y';`)
	assertChanges(t, db,
		`insert g ["x"] id="x" a=1(int64)`,
		`insert g ["y"] id="y" a=5(int64)`,
	)
}

func TestInstallTwiceChangesNothing(t *testing.T) {
	path, db := mustInstall(t, `CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE b (k TEXT PRIMARY KEY, w BLOB) WITHOUT ROWID;`)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := triggers.Install(context.Background(), db, schema.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range rep.Tracked {
		if tr.Created != 0 || tr.Dropped != 0 {
			t.Errorf("second install of %s: created %d, dropped %d triggers, want 0 and 0", tr.Name, tr.Created, tr.Dropped)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("second install changed the database file")
	}
}

func TestInstallPicksUpNewTablesAndColumns(t *testing.T) {
	path, db := mustInstall(t, `CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);`)
	dbtest.Shell(t, path, `CREATE TABLE b (k TEXT PRIMARY KEY); ALTER TABLE a ADD COLUMN w TEXT;`)
	rep, err := triggers.Install(context.Background(), db, schema.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(rep.Tracked); got != 2 {
		t.Fatalf("tracked %d tables, want 2", got)
	}
	dbtest.Shell(t, path, `INSERT INTO b VALUES ('new'); INSERT INTO a VALUES (1, 'v', 'w0'); UPDATE a SET w = 'w1';`)
	assertChanges(t, db,
		`insert b ["new"] k="new"`,
		`insert a [1(int64)] id=1(int64) v="v" w="w1"`,
	)
}

func TestInstallFilter(t *testing.T) {
	path := dbtest.NewDB(t, `CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE TABLE b (id INTEGER PRIMARY KEY); CREATE TABLE c (id INTEGER PRIMARY KEY);`)
	db := dbtest.MustOpenDB(t, path)
	ctx := context.Background()
	rep, err := triggers.Install(ctx, db, schema.Filter{Only: []string{"A", "b"}, Exclude: []string{"B"}})
	if !errors.As(err, new(*schema.UntrackableTableError)) {
		t.Fatalf("install --only b --exclude b: got %v, want an error saying b cannot be tracked", err)
	}
	rep, err = triggers.Install(ctx, db, schema.Filter{Only: []string{"A"}, Exclude: []string{"b"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Tracked) != 1 || rep.Tracked[0].Name != "a" {
		t.Errorf("tracked %v, want only a", rep.Tracked)
	}
	stored, err := triggers.StoredFilter(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored, schema.Filter{Only: []string{"A"}, Exclude: []string{"b"}}) {
		t.Errorf("stored filter %+v", stored)
	}
	// Widening the selection drops nothing and adds the new tables' triggers.
	if _, err := triggers.Install(ctx, db, schema.Filter{Exclude: []string{"c"}}); err != nil {
		t.Fatal(err)
	}
	dbtest.Shell(t, path, `INSERT INTO a VALUES (1); INSERT INTO b VALUES (2); INSERT INTO c VALUES (3);`)
	assertChanges(t, db, `insert a [1(int64)] id=1(int64)`, `insert b [2(int64)] id=2(int64)`)

	_, err = triggers.Install(ctx, db, schema.Filter{Only: []string{"nope"}})
	if err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("install --only nope: got %v, want an error naming the table", err)
	}
}

func TestUninstallRestoresSchema(t *testing.T) {
	path := dbtest.NewDB(t, `CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);
		CREATE TABLE b (k TEXT PRIMARY KEY, w BLOB) WITHOUT ROWID;
		CREATE INDEX a_v ON a (v);
		CREATE VIEW av AS SELECT * FROM a;
		CREATE TRIGGER app_trigger AFTER INSERT ON a BEGIN INSERT INTO b VALUES (NEW.v, NULL); END;
		INSERT INTO a VALUES (1, 'one');`)
	db := dbtest.MustOpenDB(t, path)
	before := dbtest.SchemaRows(t, db)
	ctx := context.Background()
	if _, err := triggers.Install(ctx, db, schema.Filter{}); err != nil {
		t.Fatal(err)
	}
	dbtest.Shell(t, path, `INSERT INTO a VALUES (2, 'two');`)
	for i := 0; i < 2; i++ { // twice: uninstall is idempotent
		if err := triggers.Uninstall(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	if after := dbtest.SchemaRows(t, db); !reflect.DeepEqual(before, after) {
		t.Errorf("schema after uninstall:\n%s\nwant:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	var left int
	if err := db.Get(&left, `SELECT count(*) FROM sqlite_schema WHERE name GLOB '_sync_*' OR tbl_name GLOB '_sync_*'`); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d deltasync objects left after uninstall", left)
	}
	if got := dbtest.Shell(t, path, `SELECT group_concat(v) FROM (SELECT v FROM a ORDER BY id); SELECT count(*) FROM b;`); got != "one,two\n2\n" {
		t.Errorf("app data after uninstall: %q", got)
	}
}
