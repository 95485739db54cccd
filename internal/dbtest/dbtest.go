package dbtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/internal/sqlitefile"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// RepoRoot returns the repository's top directory.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("cannot locate the repository")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// SQLite3 returns the path of the stock sqlite3 shell, failing the test with
// what to install if it is missing.
func SQLite3(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("sqlite3")
	if err != nil {
		tb.Fatal("the sqlite3 shell is not installed: these tests use it as the app that knows nothing of deltasync (Debian: apt-get install -y sqlite3)")
	}
	return p
}

// Shell runs sql through the sqlite3 shell on the database at path and
// returns what it printed. The shell stops at the first error, which fails
// tb. Like any app that shares its database, it waits up to 10 s for a lock.
func Shell(tb testing.TB, path, sql string) string {
	tb.Helper()
	cmd := exec.Command(SQLite3(tb), "-bail", "-batch", "-cmd", ".timeout 10000", path)
	cmd.Stdin = strings.NewReader(sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("sqlite3 %s: %v\n%s\nSQL:\n%.2000s", path, err, out, sql)
	}
	return string(out)
}

// NewDB creates a database file in a temporary directory, runs ddl in it
// through the sqlite3 shell, and returns its path.
func NewDB(tb testing.TB, ddl string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "app.db")
	Shell(tb, path, ddl)
	return path
}

// MustOpenDB opens the database at path as deltasync does, closing it when the test ends.
func MustOpenDB(tb testing.TB, path string) *sqlx.DB {
	tb.Helper()
	db, err := sqlitefile.Open(context.Background(), path, sqlitefile.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Corpus builds every database of testdata/corpus (or only names) with its
// load.sh into a temporary directory and returns their paths by name.
func Corpus(tb testing.TB, names ...string) map[string]string {
	tb.Helper()
	SQLite3(tb)
	dir := tb.TempDir()
	script := filepath.Join(RepoRoot(tb), "testdata", "corpus", "load.sh")
	out, err := exec.Command("sh", append([]string{script, dir}, names...)...).CombinedOutput()
	if err != nil {
		tb.Fatalf("load corpus: %v\n%s", err, out)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	dbs := map[string]string{}
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".db"); ok {
			dbs[name] = filepath.Join(dir, e.Name())
		}
	}
	if len(dbs) == 0 {
		tb.Fatal("load corpus: no databases built")
	}
	return dbs
}

// Names returns the keys of m in order.
func Names(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SchemaRows returns every row of sqlite_schema that is not deltasync's,
// in a stable order, one string per row with all its columns.
func SchemaRows(tb testing.TB, db *sqlx.DB) []string {
	tb.Helper()
	var rows []string
	err := db.Select(&rows, `SELECT type || '|' || name || '|' || tbl_name || '|' || rootpage || '|' || coalesce(sql, '')
		FROM sqlite_schema WHERE name NOT GLOB '_sync_*' AND tbl_name NOT GLOB '_sync_*' ORDER BY type, name`)
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}

// MustInstall creates a database with ddl through the sqlite3 shell,
// installs capture on every table, and returns its path and a handle.
func MustInstall(tb testing.TB, ddl string) (string, *sqlx.DB) {
	tb.Helper()
	path := NewDB(tb, ddl)
	db := MustOpenDB(tb, path)
	if _, err := triggers.Install(context.Background(), db, schema.Filter{}); err != nil {
		tb.Fatal(err)
	}
	return path, db
}
