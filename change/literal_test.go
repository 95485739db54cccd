package change_test

import (
	"database/sql"
	"math"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/deltasync/deltasync/change"
)

// TestLiteralReadsBack: SQLite reads every literal back as the same value,
// of the same storage class.
func TestLiteralReadsBack(t *testing.T) {
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, v := range []any{
		nil, int64(0), int64(-42), int64(math.MaxInt64), int64(math.MinInt64),
		1.0, math.Copysign(0, -1), 0.30000000000000004, 1e300, -2.5e-300,
		"", "plain", "it's", "tab\tand\nnewline", "nul\x00byte", "\x01control", "bad\xffutf8", "héllo",
		[]byte{}, []byte{0, 1, 0xff},
	} {
		lit := change.Literal(v)
		var got any
		var class string
		if err := db.QueryRow(`SELECT `+lit+`, typeof(`+lit+`)`).Scan(&got, &class); err != nil {
			t.Errorf("%s: %v", lit, err)
			continue
		}
		if !same(got, v) {
			t.Errorf("%s reads back as %#v, want %#v", lit, got, v)
		}
		if want := storageClass(v); class != want {
			t.Errorf("%s reads back as a %s, want a %s", lit, class, want)
		}
	}
}

func TestLiteral(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, "NULL"},
		{int64(42), "42"},
		{4.0, "4.0"},
		{math.Inf(-1), "-Inf"},
		{"a'b", "'a''b'"},
		{"\x00", "CAST(x'00' AS TEXT)"},
		{[]byte{0, 0xff}, "x'00ff'"},
		{42, "int(42)"},
	} {
		if got := change.Literal(tc.v); got != tc.want {
			t.Errorf("Literal(%#v): got %s, want %s", tc.v, got, tc.want)
		}
	}
	if got, want := change.KeyLiteral([]any{"a", int64(1)}), "('a', 1)"; got != want {
		t.Errorf("KeyLiteral: got %s, want %s", got, want)
	}
}

func same(got, want any) bool {
	switch w := want.(type) {
	case float64:
		g, ok := got.(float64)
		return ok && math.Float64bits(g) == math.Float64bits(w)
	case []byte:
		g, ok := got.([]byte)
		return ok && string(g) == string(w)
	case string:
		g, ok := got.(string)
		return ok && g == w
	}
	return got == want
}

func storageClass(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case int64:
		return "integer"
	case float64:
		return "real"
	case string:
		return "text"
	}
	return "blob"
}
