package benchmarks_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/internal/sqlitefile"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// itemsDDL is the table every benchmark writes: a TEXT key, as apps that
// make their own UUIDs have, and six columns covering every storage class.
const itemsDDL = `CREATE TABLE items (
	id         TEXT PRIMARY KEY,
	title      TEXT,
	body       TEXT,
	n          INTEGER,
	score      REAL,
	data       BLOB,
	updated_at TEXT
)`

// insertSQL and the other statements are what the app under test runs.
const (
	insertSQL = `INSERT INTO items (id, title, body, n, score, data, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
	updateSQL = `UPDATE items SET title = ? WHERE id = ?`
	deleteSQL = `DELETE FROM items WHERE id = ?`
)

// pragmas are the same for every database of a comparison. The page cache
// (64 MiB) holds every working set here: with SQLite's default 2 MiB,
// capture looked 1.6 times as costly as it is (MEASURED.md).
const pragmas = "&_journal_mode=WAL&_synchronous=NORMAL&_cache_size=-65536"

// body is the same 204-byte text in every row: a note or a description.
const body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor " +
	"incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud " +
	"exercitation ullamco laboris nisi ut."

// openDB creates the database name in dir with the items table and opens it
// as deltasync does, plus the benchmark's pragmas. It closes when b ends.
func openDB(tb testing.TB, dir, name string) *sqlx.DB {
	tb.Helper()
	path := filepath.Join(dir, name+".db")
	// sqlitefile.DSN opens with mode=rw, which needs the file: an empty
	// file is an empty database.
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	db, err := sqlx.Open("sqlite3", sqlitefile.DSN(path, sqlitefile.Options{})+pragmas)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Exec(itemsDDL); err != nil {
		tb.Fatal(err)
	}
	return db
}

// installDeltasync installs deltasync's own triggers, as `deltasync init` does.
func installDeltasync(tb testing.TB, db *sqlx.DB) {
	tb.Helper()
	if _, err := triggers.Install(context.Background(), db, schema.Filter{}); err != nil {
		tb.Fatal(err)
	}
}

// key returns the primary key of row i: a random-looking UUID, the same on
// every run. Random keys land all over the index, as app-made UUIDs do.
func key(i int) string {
	a, c := mix(uint64(i)), mix(^uint64(i))
	// a alone is unique per i (mix is a bijection), and it fills the first 16 hex digits.
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, a>>16&0xffff, a&0xffff, c>>48, c&0xffffffffffff)
}

// itemArgs returns the values of row i, in insertSQL's order.
func itemArgs(i int) []any {
	return []any{key(i), fmt.Sprintf("title %d", i), body, int64(i), float64(i) / 4, blob(i), "2024-05-01T12:00:00.000Z"}
}

// blob returns 64 bytes for row i: a hash, a thumbnail, an encrypted field.
func blob(i int) []byte {
	b := make([]byte, 0, 64)
	x := uint64(i)
	for len(b) < cap(b) {
		x = mix(x)
		b = binary.LittleEndian.AppendUint64(b, x)
	}
	return b
}

// mix is splitmix64's finalizer: a bijection on uint64 that scatters bits.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
