package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/conflicts"
)

// A value that `conflicts --json` prints comes back from --keep value=JSON
// with its storage class and every bit.
func TestKeepValueRoundTrip(t *testing.T) {
	for _, v := range []any{nil, int64(0), int64(math.MaxInt64), int64(math.MinInt64), int64(9007199254740993),
		0.1 + 0.2, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64,
		"", "it's", "nul\x00byte", "\xff\xfe", []byte{}, []byte{0, 0xff}} {
		text, err := json.Marshal(jsonValue(v))
		if err != nil {
			t.Fatal(err)
		}
		k, err := parseKeep("value=" + string(text))
		if err != nil || !k.isOne {
			t.Fatalf("%s: %+v, %v", text, k, err)
		}
		if !sameValue(k.single, v) {
			t.Errorf("%s: got %#v, want %#v", text, k.single, v)
		}
	}
}

func TestKeepValuePlainJSON(t *testing.T) {
	for _, tc := range []struct {
		json string
		want any
	}{
		{`null`, nil},
		{`42`, int64(42)},
		{`-7`, int64(-7)},
		{`42.0`, 42.0},
		{`1e3`, 1000.0},
		{`9223372036854775808`, 9223372036854775808.0}, // past int64: a REAL
		{`"42"`, "42"},
		{` "spaced" `, "spaced"},
	} {
		k, err := parseKeep("value=" + tc.json)
		if err != nil || !k.isOne || !sameValue(k.single, tc.want) {
			t.Errorf("%s: got %#v (%v), want %#v", tc.json, k.single, err, tc.want)
		}
	}
	k, err := parseKeep(`value={"title": "t", "qty": 3, "price": {"real": "0.5"}, "data": {"blob_hex": "00"}, "note": null}`)
	if err != nil || k.isOne || len(k.columns) != 5 || !sameValue(k.columns["qty"], int64(3)) ||
		!sameValue(k.columns["price"], 0.5) || !sameValue(k.columns["data"], []byte{0}) || k.columns["note"] != nil {
		t.Errorf("object by column: %+v, %v", k, err)
	}
}

func sameValue(a, b any) bool {
	switch b := b.(type) {
	case float64:
		a, ok := a.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(b)
	case []byte:
		a, ok := a.([]byte)
		return ok && a != nil && bytes.Equal(a, b)
	case string:
		a, ok := a.(string)
		return ok && strings.Compare(a, b) == 0
	}
	return a == b
}

func TestKeepForConflict(t *testing.T) {
	one := conflicts.Conflict{ID: 1, Columns: []conflicts.Column{{Column: "title"}}}
	two := conflicts.Conflict{ID: 2, Columns: []conflicts.Column{{Column: "title"}, {Column: "qty"}}}
	named := conflicts.Conflict{ID: 3, Columns: []conflicts.Column{{Column: "integer"}}}
	row := conflicts.Conflict{ID: 4, Columns: []conflicts.Column{{Column: ""}}}
	for _, tc := range []struct {
		c       conflicts.Conflict
		keep    string
		want    map[string]any
		wantErr string
	}{
		{one, `value="x"`, map[string]any{"title": "x"}, ""},
		{one, `value={"text_hex": "ff"}`, map[string]any{"title": "\xff"}, ""},
		{one, `value={"title": 5}`, map[string]any{"title": int64(5)}, ""},
		{two, `value={"title": "t", "qty": 5}`, map[string]any{"title": "t", "qty": int64(5)}, ""},
		{two, `value=5`, nil, `conflict 2 has columns "title", "qty"`},
		{two, `value={"integer": "5"}`, nil, `conflict 2 has columns "title", "qty"`},
		{two, `value={"qty": 5}`, nil, "give a value for each"},
		{named, `value={"integer": "5"}`, map[string]any{"integer": "5"}, ""}, // by column, as the column is named so
		{row, `value=1`, nil, "use --keep local or --keep remote"},
	} {
		k, err := parseKeep(tc.keep)
		if err != nil {
			t.Fatal(err)
		}
		keep, err := k.forConflict(tc.c)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s on conflict %d: %v, want an error containing %q", tc.keep, tc.c.ID, err, tc.wantErr)
			}
			continue
		}
		if err != nil || keep.Side != "value" || len(keep.Values) != len(tc.want) {
			t.Errorf("%s on conflict %d: %+v, %v", tc.keep, tc.c.ID, keep, err)
			continue
		}
		for name, v := range tc.want {
			if !sameValue(keep.Values[name], v) {
				t.Errorf("%s on conflict %d: %s = %#v, want %#v", tc.keep, tc.c.ID, name, keep.Values[name], v)
			}
		}
	}
}
