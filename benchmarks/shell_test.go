package benchmarks_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/deltasync/internal/dbtest"
)

// shellRows is how many single-row statements one shell run executes, in
// one transaction.
const shellRows = 100_000

// BenchmarkShell measures capture for the client that compiles every
// statement, and every trigger into it: the stock sqlite3 shell, running a
// script of 100,000 single-row statements in one transaction, on a
// database without triggers (plain) and one with deltasync installed, in
// turns. Each run is a whole shell process, so the time includes its start
// and the checkpoint when it closes the database; x-plain is the ratio.
func BenchmarkShell(b *testing.B) {
	dbtest.SQLite3(b)
	s := newShellScripts()
	for _, o := range []shellOp{
		// insert: into an empty table; the rows are deleted again, untimed.
		{name: "insert", timed: func(int) string { return s.insert }, after: s.clear},
		// update: one column of every row, to a value it did not have.
		{name: "update", setup: s.insert, timed: func(i int) string { return s.update[i%2] }},
		// delete: every row, inserted again before each run, untimed.
		{name: "delete", before: s.insert, timed: func(int) string { return s.delete }},
	} {
		b.Run(o.name, func(b *testing.B) {
			compareShell(b, []variant{plain, deltasync}, o)
		})
	}
}

// A shellOp is one timed script and the untimed ones around it. Every
// script writes exactly shellRows rows.
type shellOp struct {
	name          string
	setup         string                // run once, before the first iteration
	before, after string                // run around every timed script
	timed         func(iter int) string // the script under test in iteration iter
}

// compareShell runs o on one database per variant, in turns, and reports
// as compare does.
func compareShell(b *testing.B, vs []variant, o shellOp) {
	b.Helper()
	ts := make([]*target, len(vs))
	paths := make([]string, len(vs))
	for i, v := range vs {
		ts[i], paths[i] = &target{variant: v}, shellDB(b, v)
	}
	run := func(k int, script string) {
		if script != "" {
			dbtest.Shell(b, paths[k], script)
			ts[k].writes += shellRows
		}
	}
	for k := range ts {
		run(k, o.setup)
	}
	for iter := 0; b.Loop(); iter++ {
		for j := range ts {
			k := (iter + j) % len(ts)
			run(k, o.before)
			start := time.Now()
			run(k, o.timed(iter))
			ts[k].times = append(ts[k].times, time.Since(start))
			run(k, o.after)
		}
	}
	for k, t := range ts {
		checkShellLogged(b, t, paths[k])
	}
	report(b, ts, shellRows, "stmt")
}

// shellDB creates a database for v with Go, as the other benchmarks do,
// and closes it: the shell is then the only client of the file.
func shellDB(b *testing.B, v variant) string {
	b.Helper()
	dir := b.TempDir()
	db := openDB(b, dir, v.name)
	v.install(b, db)
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	return filepath.Join(dir, v.name+".db")
}

// checkShellLogged fails b unless t's triggers logged one row per write.
func checkShellLogged(b *testing.B, t *target, path string) {
	b.Helper()
	if t.log == "" {
		return
	}
	out := dbtest.Shell(b, path, `SELECT count(*) FROM `+t.log+`;`)
	if n, err := strconv.Atoi(strings.TrimSpace(out)); err != nil || n != t.writes {
		b.Fatalf("%s logged %q rows for %d writes", t.name, out, t.writes)
	}
}

// shellScripts are the SQL scripts the shell runs, each in one transaction
// with the pragmas the Go benchmarks use (the shell's default is
// synchronous=FULL and a 2 MiB cache).
type shellScripts struct {
	insert, delete, clear string
	update                [2]string // two different values for every row, used in turns
}

func newShellScripts() *shellScripts {
	return &shellScripts{
		insert: shellScript(func(i int) string {
			a := itemArgs(i)
			return fmt.Sprintf("INSERT INTO items (id, title, body, n, score, data, updated_at) VALUES ('%s', '%s', '%s', %d, %s, X'%x', '%s');",
				a[0], a[1], a[2], a[3], strconv.FormatFloat(a[4].(float64), 'g', -1, 64), a[5], a[6])
		}),
		update: [2]string{shellUpdate("a"), shellUpdate("b")},
		delete: shellScript(func(i int) string { return fmt.Sprintf("DELETE FROM items WHERE id = '%s';", key(i)) }),
		clear:  shellHeader + "DELETE FROM items;\n",
	}
}

func shellUpdate(rev string) string {
	return shellScript(func(i int) string {
		return fmt.Sprintf("UPDATE items SET title = 'title %d rev %s' WHERE id = '%s';", i, rev, key(i))
	})
}

const shellHeader = "PRAGMA synchronous = NORMAL;\nPRAGMA cache_size = -65536;\n"

// shellScript is one transaction of shellRows statements, stmt(i) for row i.
func shellScript(stmt func(i int) string) string {
	var sb strings.Builder
	sb.WriteString(shellHeader + "BEGIN;\n")
	for i := range shellRows {
		sb.WriteString(stmt(i))
		sb.WriteByte('\n')
	}
	sb.WriteString("COMMIT;\n")
	return sb.String()
}
