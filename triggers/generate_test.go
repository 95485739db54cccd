package triggers_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// hostile are tables whose names and columns break SQL that is not quoted
// through one function. Each is created by the sqlite3 shell, installed, and
// its generated triggers compared with testdata/<name>.sql.
var hostile = []struct {
	name string
	ddl  string
}{
	{"rowid_alias", `CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body BLOB, n);`},
	{"spaces_quotes", `CREATE TABLE "my ""odd"" 'table'" ("the key" TEXT PRIMARY KEY, "it's" TEXT, "say ""hi""" INT);`},
	{"brackets_keywords", `CREATE TABLE [order] ([select] TEXT, [group] INTEGER, [where] REAL, PRIMARY KEY ([select], [group])) WITHOUT ROWID;`},
	{"unicode", `CREATE TABLE "Ünïcødé 表" ("ключ" TEXT PRIMARY KEY, "値" TEXT, "emoji 🎉" BLOB);`},
	{"rowid_column", `CREATE TABLE t ("rowid" TEXT, "oid" INTEGER, v TEXT);`},
	{"all_rowid_names", `CREATE TABLE t ("rowid" TEXT, "oid" INTEGER, "_rowid_" REAL, v TEXT);`},
	{"oid_key", `CREATE TABLE graves (oid INTEGER NOT NULL, type INTEGER NOT NULL, usn INTEGER NOT NULL, PRIMARY KEY (oid, type)) WITHOUT ROWID;`},
	{"generated", `CREATE TABLE g (id TEXT PRIMARY KEY, a INT, b INT GENERATED ALWAYS AS (a * 2) VIRTUAL, c TEXT AS (upper(id)) STORED);`},
	{"strict_any", `CREATE TABLE s (id BLOB PRIMARY KEY, v ANY, w TEXT) STRICT;`},
	{"nocase", `CREATE TABLE n (k TEXT PRIMARY KEY COLLATE NOCASE, v TEXT COLLATE NOCASE);`},
}

func TestGenerateGolden(t *testing.T) {
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			db := dbtest.MustOpenDB(t, dbtest.NewDB(t, tc.ddl))
			rep, err := triggers.Install(context.Background(), db, schema.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, tr := range rep.Tracked {
				reg := changelog.Registration{TableID: 1, ColumnIDs: map[string]int64{}}
				for i, c := range tr.Writable() {
					reg.ColumnIDs[c.Name] = int64(i + 1)
				}
				for _, g := range triggers.Generate(tr.Table, reg) {
					got.WriteString(g.SQL + ";\n\n")
				}
			}
			for _, s := range rep.Skipped {
				got.WriteString("-- skipped " + s.Name + ": " + s.Reason + "\n")
			}
			golden := filepath.Join("testdata", tc.name+".sql")
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
				t.Errorf("generated SQL differs from %s (go test ./triggers -update rewrites it)\ngot:\n%s\nwant:\n%s", golden, got.String(), want)
			}
		})
	}
}
