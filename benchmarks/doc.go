// Package benchmarks measures what change capture costs an app, and how fast
// the changelog reads back, each against its baseline in the same run. It
// has no code of its own: everything is in _test.go files, and `go test
// ./...` only compiles it. README.md has the figures, the commands that
// reproduce them, the targets and the design decisions they support.
//
// # What is measured
//
//   - BenchmarkCapture: rows inserted, updated (one column) and deleted in a
//     table with a TEXT key and six columns (TEXT, INTEGER, REAL, BLOB), on
//     plain SQLite and with deltasync's triggers (triggers.Install), in
//     three modes: one prepared *sql.Stmt in transactions of 1,000 rows
//     (prepared-1000) and of one row (prepared-1), and db.Exec(query,
//     args...) in transactions of 1,000 rows (exec-1000), which compiles the
//     statement and every trigger it fires each time.
//   - BenchmarkAlternatives: other ways for a trigger to store a change
//     (values in the log, a changed-columns bitmask, an echo-suppression
//     guard), hand-written in alternatives_test.go, against the same plain
//     baseline.
//   - BenchmarkAppTrigger: inserts and updates that fire an app's own
//     last_update-style trigger, with the guard init adds to it and without,
//     against plain SQLite with the same trigger.
//   - BenchmarkRead: changelog.Read over 100,000 logged changes, in
//     changes/s, against a bare scan of the same changelog rows.
//   - BenchmarkShell: the stock sqlite3 shell running 100,000 single-row
//     statements in one transaction, with and without deltasync's triggers.
//
// # How
//
// Every database is a fresh file in b.TempDir(), opened through go-sqlite3
// with WAL, synchronous=NORMAL and a 64 MiB page cache. The variants of a
// comparison get the same rows in the same order, in turns within one
// b.Loop iteration, and the order rotates every iteration: on a shared,
// noisy machine the noise then hits all of them alike, and only their
// ratios (x-plain) are worth comparing across runs. Each timed batch ends
// with a WAL checkpoint, so that every variant pays for writing back the
// pages it wrote and an automatic checkpoint never lands on one variant's
// batch only. Each variant's log is checked afterwards to hold one row per
// write, so a trigger that did not fire cannot flatter its variant.
//
// Run them with a fixed iteration count, several times, and compare the
// medians of the ratios, for example:
//
//	go test ./benchmarks -run '^$' -bench '^BenchmarkCapture$' -benchtime 40x -count 5 | tee capture.txt
//	benchstat capture.txt
//
// TMPDIR decides where the databases live: the default /tmp measures the
// disk too, TMPDIR=/dev/shm measures SQLite and the triggers alone.
//
// benchmarks imports schema, triggers, changelog and internal packages;
// nothing imports it.
package benchmarks
