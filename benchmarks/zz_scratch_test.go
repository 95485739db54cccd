package benchmarks_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/deltasync/deltasync/internal/sqlitefile"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
	"github.com/jmoiron/sqlx"
)

func TestScratchDump(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.db")
	os.WriteFile(p, nil, 0o644)
	db, err := sqlx.Open("sqlite3", sqlitefile.DSN(p, sqlitefile.Options{})+"&_journal_mode=WAL&_synchronous=NORMAL&_cache_size=-65536")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	db.MustExec(`CREATE TABLE items (id TEXT PRIMARY KEY, title TEXT, body TEXT, n INTEGER, score REAL, data BLOB, updated_at TEXT)`)
	if _, err := triggers.Install(context.Background(), db, schema.Filter{}); err != nil {
		t.Fatal(err)
	}
	var s []string
	db.Select(&s, `SELECT sql FROM sqlite_schema WHERE type='trigger'`)
	for _, x := range s {
		t.Log(x)
	}
	var jm, cs, sy string
	db.Get(&jm, "PRAGMA journal_mode"); db.Get(&cs, "PRAGMA cache_size"); db.Get(&sy, "PRAGMA synchronous")
	t.Log(jm, cs, sy)
}
