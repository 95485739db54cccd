package benchmarks_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// baseRows is how many rows every table holds before the timed writes:
// updates land on them, and inserts and deletes meet an index of a
// realistic depth.
const baseRows = 20_000

// A variant is one way of capturing writes, or none (plain).
type variant struct {
	name     string
	log      string // the table its triggers append rows to, perWrite per write; "" for none
	perWrite int    // log rows per write; 0 means 1
	install  func(tb testing.TB, db *sqlx.DB)
}

var (
	plain     = variant{name: "plain", install: func(testing.TB, *sqlx.DB) {}}
	deltasync = variant{name: "deltasync", log: "_sync_changelog", install: installDeltasync}
)

// A mode is how the app sends its writes.
type mode struct {
	name     string
	prepared bool // one *sql.Stmt reused; otherwise Exec(query, args...) compiles each time
	txRows   int  // rows per transaction; 1 is autocommit, one transaction per statement
	batch    int  // rows per iteration of b.Loop
}

var (
	prepared1000 = mode{"prepared-1000", true, 1000, 1000}
	prepared1    = mode{"prepared-1", true, 1, 1000}
	exec1000     = mode{"exec-1000", false, 1000, 1000}
)

// An op is the write under test. Row r is the r-th timed write since the start.
type op struct {
	name  string
	query string
	args  func(iter, r int) []any // arguments for row r, written in iteration iter
	fresh bool                    // row r must be inserted, untimed, before it is written
}

var (
	// insert adds rows with new keys.
	insertOp = op{"insert", insertSQL, func(_, r int) []any { return itemArgs(baseRows + r) }, false}
	// update sets one column of the base rows, in turn, to a value it never had.
	updateOp = op{"update", updateSQL, func(iter, r int) []any {
		return []any{fmt.Sprintf("title %d rev %d", r%baseRows, iter), key(r % baseRows)}
	}, false}
	// delete removes rows that were inserted just before, untimed.
	deleteOp = op{"delete", deleteSQL, func(_, r int) []any { return []any{key(baseRows + r)} }, true}
	ops      = []op{insertOp, updateOp, deleteOp}
)

// A target is one database under test: the items table with one variant's triggers.
type target struct {
	variant
	conn   *sql.Conn       // the one connection every write goes through
	insert *sql.Stmt       // insertSQL, for untimed setup
	stmt   *sql.Stmt       // the op's statement, prepared; nil when the mode is unprepared
	writes int             // rows written: the triggers must have logged as many
	times  []time.Duration // of each timed batch, by iteration
}

func newTarget(b *testing.B, v variant, m mode, o op) *target {
	b.Helper()
	ctx := context.Background()
	db := openDB(b, b.TempDir(), v.name)
	v.install(b, db)
	t := &target{variant: v}
	var err error
	if t.conn, err = db.Conn(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { t.conn.Close() })
	t.insert = t.prepare(b, insertSQL)
	if m.prepared {
		t.stmt = t.prepare(b, o.query)
	}
	base := make([][]any, baseRows)
	for i := range base {
		base[i] = itemArgs(i)
	}
	t.mustSetup(b, base)
	return t
}

func (t *target) prepare(b *testing.B, query string) *sql.Stmt {
	b.Helper()
	s, err := t.conn.PrepareContext(context.Background(), query)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// mustSetup inserts rows in one transaction and checkpoints, untimed.
func (t *target) mustSetup(b *testing.B, rows [][]any) {
	b.Helper()
	ctx := context.Background()
	err := t.write(ctx, len(rows), t.insert, insertSQL, rows)
	if err == nil {
		err = t.checkpoint(ctx)
	}
	if err != nil {
		b.Fatalf("%s: setup: %v", t.name, err)
	}
}

// timed writes rows as m says, then checkpoints, and records the time it
// took. The checkpoint is part of the cost. Left to SQLite, it runs every
// 1,000 WAL pages, wherever that falls: on one variant's timed deletes and
// on another's untimed setup, which once made deltasync's deletes look 25%
// cheaper than plain ones. Ending every batch with one makes each variant
// pay for writing back exactly the pages it wrote.
func (t *target) timed(b *testing.B, m mode, o op, rows [][]any) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	err := t.write(ctx, m.txRows, t.stmt, o.query, rows)
	if err == nil {
		err = t.checkpoint(ctx)
	}
	t.times = append(t.times, time.Since(start))
	if err != nil {
		b.Fatalf("%s: %s: %v", t.name, o.name, err)
	}
}

// checkpoint copies the WAL into the database. With no reader open, the
// next write starts the WAL over from its beginning.
func (t *target) checkpoint(ctx context.Context) error {
	var busy, logged, done int
	err := t.conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logged, &done)
	if err == nil && (busy != 0 || logged != done) {
		err = fmt.Errorf("checkpoint incomplete: busy %d, %d of %d pages", busy, done, logged)
	}
	return err
}

// write runs query (through stmt if it is not nil) once per row, txRows
// rows per transaction.
func (t *target) write(ctx context.Context, txRows int, stmt *sql.Stmt, query string, rows [][]any) error {
	for lo := 0; lo < len(rows); lo += txRows {
		if err := t.tx(ctx, stmt, query, rows[lo:min(lo+txRows, len(rows))]); err != nil {
			return err
		}
	}
	return nil
}

// tx writes rows in one transaction; a single row is left to autocommit.
func (t *target) tx(ctx context.Context, stmt *sql.Stmt, query string, rows [][]any) error {
	if len(rows) == 1 {
		return t.exec(ctx, stmt, query, rows[0])
	}
	if _, err := t.conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return err
	}
	for _, args := range rows {
		if err := t.exec(ctx, stmt, query, args); err != nil {
			t.conn.ExecContext(ctx, `ROLLBACK`) //nolint:errcheck // the write's error is the one to report
			return err
		}
	}
	_, err := t.conn.ExecContext(ctx, `COMMIT`)
	return err
}

// exec writes one row, through stmt if it is not nil, else by compiling query.
func (t *target) exec(ctx context.Context, stmt *sql.Stmt, query string, args []any) error {
	var res sql.Result
	var err error
	if stmt != nil {
		res, err = stmt.ExecContext(ctx, args...)
	} else {
		res, err = t.conn.ExecContext(ctx, query, args...)
	}
	if err == nil {
		err = oneRow(res)
	}
	if err == nil {
		t.writes++
	}
	return err
}

// oneRow checks that a write changed exactly one row: an update or delete
// that missed its row would fire no trigger and flatter the variant.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err == nil && n != 1 {
		err = fmt.Errorf("changed %d rows, want 1", n)
	}
	return err
}

// checkLogged fails b unless t's triggers logged one row per write.
func (t *target) checkLogged(b *testing.B) {
	b.Helper()
	if t.log == "" {
		return
	}
	var n int
	if err := t.conn.QueryRowContext(context.Background(), `SELECT count(*) FROM `+t.log).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if want := t.writes * max(1, t.perWrite); n != want {
		b.Fatalf("%s logged %d rows for %d writes, want %d", t.name, n, t.writes, want)
	}
}

// compare writes the same batches through every variant, in turns, and
// reports each one's time per row and its ratio to the first (plain).
// The order rotates every iteration, so that a noisy neighbour or a GC
// hits every variant alike, and so that none always runs on the page cache
// another one warmed.
func compare(b *testing.B, vs []variant, m mode, o op) {
	b.Helper()
	ts := make([]*target, len(vs))
	for i, v := range vs {
		ts[i] = newTarget(b, v, m, o)
	}
	rows := make([][]any, m.batch)
	var fresh [][]any
	for iter := 0; b.Loop(); iter++ {
		for j := range rows {
			rows[j] = o.args(iter, iter*m.batch+j)
		}
		if o.fresh {
			fresh = freshRows(iter, m.batch)
		}
		for k := range ts {
			t := ts[(iter+k)%len(ts)]
			if o.fresh {
				t.mustSetup(b, fresh)
			}
			t.timed(b, m, o, rows)
		}
	}
	for _, t := range ts {
		t.checkLogged(b)
	}
	report(b, ts, m.batch, "row")
}

// freshRows are the rows insertOp would write in iteration iter.
func freshRows(iter, n int) [][]any {
	rows := make([][]any, n)
	for j := range rows {
		rows[j] = itemArgs(baseRows + iter*n + j)
	}
	return rows
}

// report gives each target's median time per unit (n units per batch) and
// its ratio to the first target: the median of the ratios of batches timed
// in the same iteration. On a machine shared with other jobs a burst of
// load or of disk flushes can slow one batch several times over; the
// median of paired ratios ignores it, where a ratio of sums would not.
// The framework's ns/op, which would add all variants up, is dropped.
func report(b *testing.B, ts []*target, n int, unit string) {
	b.Helper()
	b.ReportMetric(0, "ns/op")
	for _, t := range ts {
		times := make([]float64, len(t.times))
		for i, d := range t.times {
			times[i] = float64(d)
		}
		b.ReportMetric(median(times)/float64(n), t.name+"-ns/"+unit)
	}
	base := ts[0].times
	for _, t := range ts[1:] {
		name := t.name + "-x-plain"
		if len(ts) == 2 {
			name = "x-plain"
		}
		ratios := make([]float64, len(t.times))
		for i, d := range t.times {
			ratios[i] = float64(d) / float64(base[i])
		}
		b.ReportMetric(median(ratios), name)
	}
}

// median sorts v and returns its median.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
