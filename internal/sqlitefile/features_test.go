package sqlitefile_test

import (
	"context"
	"testing"

	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/internal/sqlitefile"
)

// TestBuildHasAppFeatures: the SQLite deltasync is built with has what the
// apps' schemas use, so that replaying their writes (and their triggers)
// works: FTS5, JSON, the math functions and R*Tree.
func TestBuildHasAppFeatures(t *testing.T) {
	path := dbtest.NewDB(t, `CREATE TABLE t (x);`)
	db, err := sqlitefile.Open(context.Background(), path, sqlitefile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, f := range []struct{ name, sql string }{
		{"FTS5", `CREATE VIRTUAL TABLE f USING fts5(a)`},
		{"JSON", `SELECT json_extract('{"a": 1}', '$.a')`},
		{"math functions", `SELECT sqrt(4), ln(1)`},
		{"R*Tree", `CREATE VIRTUAL TABLE r USING rtree(id, x0, x1)`},
	} {
		if _, err := db.Exec(f.sql); err != nil {
			t.Errorf("%s: %v; build with `make`, or go test/build -tags sqlite_fts5,sqlite_math_functions", f.name, err)
		}
	}
}
