package main

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/deltasync/deltasync/conflicts"
)

// FuzzKeep feeds any text to `conflicts resolve --keep`: it is refused with
// an error or read as values SQLite stores (never NaN), each of which reads
// back the same through the typed JSON `conflicts --json` prints; and
// applying it to a conflict never panics. Seeds: testdata/fuzz/FuzzKeep.
func FuzzKeep(f *testing.F) {
	conflicts := []conflicts.Conflict{
		{ID: 1, Columns: []conflicts.Column{{Column: "title"}}},
		{ID: 2, Columns: []conflicts.Column{{Column: "title"}, {Column: "qty"}}},
		{ID: 3, Columns: []conflicts.Column{{Column: "integer"}}},
		{ID: 4, Columns: []conflicts.Column{{Column: ""}}},
	}
	f.Fuzz(func(t *testing.T, keep string) {
		k, err := parseKeep(keep)
		if err != nil {
			return
		}
		if k.side == "value" {
			if k.isOne {
				checkValue(t, keep, k.single)
			} else if k.columns == nil {
				t.Fatalf("%q: read as neither one value nor values by column", keep)
			}
			for _, v := range k.columns {
				checkValue(t, keep, v)
			}
		}
		for _, cf := range conflicts {
			k.forConflict(cf) //nolint:errcheck // only must not panic
		}
	})
}

// checkValue fails unless v is a value SQLite stores that reads back the
// same through its typed JSON.
func checkValue(t *testing.T, keep string, v any) {
	t.Helper()
	switch v := v.(type) {
	case nil, int64, string, []byte:
	case float64:
		if math.IsNaN(v) {
			t.Fatalf("%q: read as NaN, which SQLite does not store", keep)
		}
	default:
		t.Fatalf("%q: read as %T, not a SQLite value", keep, v)
	}
	text, err := json.Marshal(jsonValue(v))
	if err != nil {
		t.Fatal(err)
	}
	back, err := parseKeep("value=" + string(text))
	if err != nil || !back.isOne || !sameValue(back.single, v) {
		t.Fatalf("%q: %#v printed as %s reads back as %#v (%v)", keep, v, text, back.single, err)
	}
}
