package benchmarks_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
)

// The read benchmark's log: 100,000 changes written by an app in blocks of
// ten (6 inserts, 3 single-column updates of rows inserted earlier, 1 delete).
const (
	readBlocks  = 10_000
	readChanges = readBlocks * 10
	readRows    = readBlocks * 6 // rows inserted; each one becomes one change
	readDeletes = readBlocks
)

// BenchmarkRead measures changelog.Read over 100,000 logged changes, from
// version 0 with no limit: it scans the log, coalesces per row and reads the
// current values of the rows inserted or updated. changes/s counts changelog
// rows read; the target is 500,000. scan-changes/s is the floor: the same
// changelog rows scanned into Go and thrown away, timed in turns with Read;
// x-scan is Read's time over the scan's.
func BenchmarkRead(b *testing.B) {
	ctx := context.Background()
	db := changesDB(b)
	checkRead(b, db)
	var read, scan time.Duration
	for i := 0; b.Loop(); i++ {
		for k := range 2 {
			start := time.Now()
			var err error
			if (i+k)%2 == 0 {
				_, err = changelog.New(db).Read(ctx, 0, 0)
				read += time.Since(start)
			} else {
				err = scanLog(ctx, db)
				scan += time.Since(start)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(readChanges*b.N)/read.Seconds(), "changes/s")
	b.ReportMetric(float64(readChanges*b.N)/scan.Seconds(), "scan-changes/s")
	b.ReportMetric(float64(read)/float64(scan), "x-scan")
}

// changesDB returns a database with deltasync installed and readChanges
// changes in its log, written by prepared statements in transactions of
// 1,000 blocks.
func changesDB(b testing.TB) *sqlx.DB {
	b.Helper()
	db := openDB(b, b.TempDir(), "app")
	installDeltasync(b, db)
	for lo := 0; lo < readBlocks; lo += 1000 {
		if err := writeBlocks(db, lo, min(lo+1000, readBlocks)); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// blockSQL are the statements of a block: an insert, an update of title,
// of n and of score, and a delete.
var blockSQL = [5]string{
	insertSQL,
	`UPDATE items SET title = ? WHERE id = ?`,
	`UPDATE items SET n = ? WHERE id = ?`,
	`UPDATE items SET score = ? WHERE id = ?`,
	deleteSQL,
}

// writeBlocks writes blocks [lo, hi) in one transaction.
func writeBlocks(db *sqlx.DB, lo, hi int) error {
	tx, err := db.Beginx()
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	var w blockWriter
	for i, q := range blockSQL {
		if w.stmts[i], err = tx.Prepare(q); err != nil {
			return err
		}
	}
	for j := lo; j < hi && w.err == nil; j++ {
		w.block(j)
	}
	if w.err != nil {
		return w.err
	}
	return tx.Commit()
}

// A blockWriter runs blockSQL and keeps the first error.
type blockWriter struct {
	stmts [len(blockSQL)]*sql.Stmt
	err   error
}

// block j inserts rows 6j..6j+5, sets one column (title, n or score, in
// turn) of three rows inserted earlier, picked at random among those never
// deleted (offsets 0, 2, 4), and deletes row 6j+1, which is never updated.
// Every statement changes one row, to a value it never had, so the log
// holds exactly 10 changes per block.
func (w *blockWriter) block(j int) {
	for r := 6 * j; r < 6*j+6; r++ {
		w.exec(0, itemArgs(r)...)
	}
	for k := range 3 {
		r := 6*int(mix(uint64(j*3+k))%uint64(j+1)) + 2*k
		// Negative numbers: a value the row never had, or the trigger would log nothing.
		rev := j*3 + k + 1
		vals := []any{fmt.Sprintf("title %d rev %d", r, rev), -int64(rev), -float64(rev) / 8}
		w.exec(1+k, vals[k], key(r))
	}
	w.exec(4, key(6*j+1))
}

func (w *blockWriter) exec(i int, args ...any) {
	if w.err != nil {
		return
	}
	res, err := w.stmts[i].Exec(args...)
	if err == nil {
		err = oneRow(res)
	}
	w.err = err
}

// checkRead fails b unless Read returns what the log holds: one change per
// inserted row, a delete for each deleted one.
func checkRead(b *testing.B, db *sqlx.DB) {
	b.Helper()
	batch, err := changelog.New(db).Read(context.Background(), 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	ops := map[change.Op]int{}
	for _, c := range batch.Changes {
		ops[c.Op]++
	}
	want := map[change.Op]int{change.Insert: readRows - readDeletes, change.Delete: readDeletes}
	if batch.Through != readChanges || len(ops) != 2 || ops[change.Insert] != want[change.Insert] || ops[change.Delete] != want[change.Delete] {
		b.Fatalf("Read: through %d, changes by op %v; want through %d, %v", batch.Through, ops, readChanges, want)
	}
}

// scanLog reads every changelog row into the types Read scans them into.
func scanLog(ctx context.Context, db *sqlx.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT version, tbl, op, col, at, k0, k1, k2, k3
		FROM _sync_changelog WHERE version > ? ORDER BY version`, 0)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		version, tbl, op int64
		col              sql.NullInt64
		at               float64
		k                [4]any
	)
	n := 0
	for rows.Next() {
		if err := rows.Scan(&version, &tbl, &op, &col, &at, &k[0], &k[1], &k[2], &k[3]); err != nil {
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != readChanges {
		return fmt.Errorf("scanned %d changelog rows, want %d", n, readChanges)
	}
	return nil
}
