package changelog_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/internal/dbtest"
)

// fidelityDDL has an untyped column v that keeps every storage class, and
// typed columns holding values of another class than their affinity.
const fidelityDDL = `CREATE TABLE f (id INTEGER PRIMARY KEY, v, i INTEGER, t TEXT, r REAL, d DATETIME, b BOOLEAN);`

// shellValues are SQL literals for column v, written by the sqlite3 shell.
var shellValues = []string{
	"NULL", "0", "1", "-1", "9223372036854775807", "-9223372036854775808",
	"0.1 + 0.2", "1e308", "-1e308", "5e-324", "1e999", "-1e999", "2.5",
	"''", "'it''s'", "'a' || char(0) || 'b'", "CAST(x'ff00fe80' AS TEXT)", "'ünï 表 🎉'",
	"x''", "x'00'", "x'00ff00'", "zeroblob(100000)", "randomblob(3000)",
}

func mustInstall(t *testing.T, ddl string) (string, *sqlx.DB) {
	t.Helper()
	return dbtest.MustInstall(t, ddl)
}

func readAll(t *testing.T, db *sqlx.DB) *changelog.Batch {
	t.Helper()
	b, err := changelog.New(db).Read(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// byID returns the changes of table f by their integer key.
func byID(t *testing.T, b *changelog.Batch) map[int64]changelog.Change {
	t.Helper()
	m := map[int64]changelog.Change{}
	for _, c := range b.Changes {
		m[c.Key[0].(int64)] = c
	}
	return m
}

func valueOf(c changelog.Change, col string) any {
	for i, name := range c.Columns {
		if name == col {
			return c.Values[i]
		}
	}
	return "<missing column " + col + ">"
}

// TestFidelityShell writes every kind of value with the sqlite3 shell and
// checks that the changelog returns what the shell itself sees: the same
// storage class, the same bytes, the same REAL bits.
func TestFidelityShell(t *testing.T) {
	path, db := mustInstall(t, fidelityDDL)
	var sql strings.Builder
	for i, lit := range shellValues {
		fmt.Fprintf(&sql, "INSERT INTO f (id, v) VALUES (%d, %s);\n", i+1, lit)
	}
	sql.WriteString(`INSERT INTO f (id, i, t, r, d, b) VALUES (1000, 'abc', x'0001', 'not a number', '2026-11-24 10:00:00', 1);` + "\n")
	dbtest.Shell(t, path, sql.String())

	// What the shell sees, one line per value: id|typeof|hex|17 significant digits.
	out := dbtest.Shell(t, path, `SELECT id, 'v', typeof(v), hex(v), printf('%!.17g', v) FROM f WHERE id < 1000
		UNION ALL SELECT id, 'i', typeof(i), hex(i), '' FROM f WHERE id = 1000
		UNION ALL SELECT id, 't', typeof(t), hex(t), '' FROM f WHERE id = 1000
		UNION ALL SELECT id, 'r', typeof(r), hex(r), '' FROM f WHERE id = 1000
		UNION ALL SELECT id, 'd', typeof(d), hex(d), '' FROM f WHERE id = 1000
		UNION ALL SELECT id, 'b', typeof(b), hex(b), '' FROM f WHERE id = 1000;`)
	changes := byID(t, readAll(t, db))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(shellValues)+5 {
		t.Fatalf("shell printed %d lines, want %d", len(lines), len(shellValues)+5)
	}
	for _, line := range lines {
		f := strings.SplitN(line, "|", 5)
		id, _ := strconv.ParseInt(f[0], 10, 64)
		c, ok := changes[id]
		if !ok {
			t.Errorf("row %d: no change captured", id)
			continue
		}
		got := valueOf(c, f[1])
		if err := sameAsShell(got, f[2], f[3], f[4]); err != nil {
			t.Errorf("row %d column %s: %v", id, f[1], err)
		}
	}
}

// sameAsShell compares a Go value with the shell's typeof, hex and %!.17g of it.
func sameAsShell(got any, typ, hexText, real string) error {
	switch typ {
	case "null":
		if got != nil {
			return fmt.Errorf("got %T %v, want NULL", got, got)
		}
	case "integer":
		want, _ := strconv.ParseInt(string(mustHex(hexText)), 10, 64)
		if g, ok := got.(int64); !ok || g != want {
			return fmt.Errorf("got %T %v, want INTEGER %d", got, got, want)
		}
	case "real":
		want := parseShellReal(real)
		if g, ok := got.(float64); !ok || math.Float64bits(g) != math.Float64bits(want) {
			return fmt.Errorf("got %T %v, want REAL %v (%s)", got, got, want, real)
		}
	case "text":
		if g, ok := got.(string); !ok || g != string(mustHex(hexText)) {
			return fmt.Errorf("got %T %q, want TEXT %q", got, got, mustHex(hexText))
		}
	case "blob":
		if g, ok := got.([]byte); !ok || g == nil || !bytes.Equal(g, mustHex(hexText)) {
			return fmt.Errorf("got %T (%d bytes), want BLOB of %d bytes", got, lenOf(got), len(hexText)/2)
		}
	default:
		return fmt.Errorf("shell printed type %q", typ)
	}
	return nil
}

func parseShellReal(s string) float64 {
	switch s {
	case "Inf":
		return math.Inf(1)
	case "-Inf":
		return math.Inf(-1)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(err)
	}
	return f
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func lenOf(v any) int {
	if b, ok := v.([]byte); ok {
		return len(b)
	}
	return -1
}

// TestFidelityGo writes values bound from Go and checks that the changelog
// returns them with the same Go type and bits.
func TestFidelityGo(t *testing.T) {
	_, db := mustInstall(t, fidelityDDL)
	values := []any{
		nil, int64(0), int64(math.MaxInt64), int64(math.MinInt64),
		0.1 + 0.2, 1e308, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64,
		"", "a\x00b", "\xff\xfe invalid utf-8", "ünï 表 🎉", strings.Repeat("long ", 100000),
		[]byte{}, []byte{0}, []byte{0, 0xff, 0}, bytes.Repeat([]byte{1, 2, 3}, 100000),
	}
	for i, v := range values {
		if _, err := db.Exec(`INSERT INTO f (id, v) VALUES (?, ?)`, i+1, v); err != nil {
			t.Fatal(err)
		}
	}
	// Storage class differs from the column's affinity.
	if _, err := db.Exec(`INSERT INTO f (id, i, t, r) VALUES (1000, ?, ?, ?)`, "abc", []byte{0, 1}, "x"); err != nil {
		t.Fatal(err)
	}
	changes := byID(t, readAll(t, db))
	for i, want := range values {
		if got := valueOf(changes[int64(i+1)], "v"); !sameValue(got, want) {
			t.Errorf("value %d: got %T %.40v, want %T %.40v", i+1, got, got, want, want)
		}
	}
	row := changes[1000]
	for col, want := range map[string]any{"i": "abc", "t": []byte{0, 1}, "r": "x"} {
		if got := valueOf(row, col); !sameValue(got, want) {
			t.Errorf("column %s: got %T %v, want %T %v", col, got, got, want, want)
		}
	}
}

// sameValue compares by storage class and bytes; REALs bit for bit.
func sameValue(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case int64:
		bv, ok := b.(int64)
		return ok && a == bv
	case float64:
		bv, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(bv)
	case string:
		bv, ok := b.(string)
		return ok && a == bv
	case []byte:
		bv, ok := b.([]byte)
		return ok && a != nil && bv != nil && bytes.Equal(a, bv)
	}
	return false
}
