package codec_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/codec"
)

// Encode refuses, with ErrInvalid and dst unchanged, every batch that a
// Decoder would refuse.
func TestEncodeInvalid(t *testing.T) {
	cases := []struct {
		name   string
		change func(b *codec.Batch, c *codec.Change)
		detail string
	}{
		{"last before first", func(b *codec.Batch, _ *codec.Change) { b.First = b.Last + 1 }, "before first"},
		{"head before last", func(b *codec.Batch, _ *codec.Change) { b.Head = b.Last - 1 }, "head version 1 before last 2"},
		{"table index", func(_ *codec.Batch, c *codec.Change) { c.Table = 1 }, "change 0: table index 1 of 1"},
		{"negative table index", func(_ *codec.Batch, c *codec.Change) { c.Table = -1 }, "table index -1 of 1"},
		{"op 0", func(_ *codec.Batch, c *codec.Change) { c.Op = 0 }, "unknown op 0"},
		{"op 5", func(_ *codec.Batch, c *codec.Change) { c.Op = 5 }, "unknown op 5"},
		{"lost column index", func(_ *codec.Batch, c *codec.Change) { c.Op, c.Columns[1] = change.Lost, 3 }, "column 1: column index 3 of 3"},
		{"lost columns out of order", func(_ *codec.Batch, c *codec.Change) { c.Op, c.Columns = change.Lost, []int{2, 1} }, "column index 1 after 2"},
		{"no key", func(_ *codec.Batch, c *codec.Change) { c.Key = nil }, "key of 0 values"},
		{"key of 5", func(_ *codec.Batch, c *codec.Change) { c.Key = make([]any, 5) }, "key of 5 values"},
		{"key type", func(_ *codec.Batch, c *codec.Change) { c.Key = []any{1} }, "key 0: value of type int"},
		{"value type", func(_ *codec.Batch, c *codec.Change) { c.Values[1] = true }, "column 1: value of type bool"},
		{"fewer values", func(_ *codec.Batch, c *codec.Change) { c.Values = c.Values[:1] }, "2 columns, 1 values, 2 clocks"},
		{"fewer clocks", func(_ *codec.Batch, c *codec.Change) { c.Clocks = c.Clocks[:1] }, "2 columns, 2 values, 1 clocks"},
		{"delete with columns", func(_ *codec.Batch, c *codec.Change) { c.Op = change.Delete }, "delete with 2 columns"},
		{"column index", func(_ *codec.Batch, c *codec.Change) { c.Columns[1] = 3 }, "column 1: column index 3 of 3"},
		{"negative column index", func(_ *codec.Batch, c *codec.Change) { c.Columns[0] = -1 }, "column 0: column index -1 of 3"},
		{"columns out of order", func(_ *codec.Batch, c *codec.Change) { c.Columns = []int{2, 1} }, "column index 1 after 2"},
		{"repeated column", func(_ *codec.Batch, c *codec.Change) { c.Columns = []int{1, 1} }, "column index 1 after 1"},
		{"row site index", func(_ *codec.Batch, c *codec.Change) { c.Clock.Site = 1 }, "row clock: site index 1 of 1"},
		{"column named twice", func(b *codec.Batch, _ *codec.Change) { b.Tables[0].Columns[2] = "a" }, `column "a" of table "t" named twice`},
		{"table named twice", func(b *codec.Batch, _ *codec.Change) { b.Tables = append(b.Tables, codec.Table{Name: "t"}) }, `table "t" named twice`},
		{"column site index", func(_ *codec.Batch, c *codec.Change) { c.Clocks[1].Site = 2 }, "column 1: site index 2 of 1"},
	}
	e := MustEncoder(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := invalidBase()
			tc.change(b, &b.Changes[0])
			dst := []byte("kept")
			out, err := e.Encode(dst, b)
			if !errors.Is(err, codec.ErrInvalid) {
				t.Fatalf("got %v, want %v", err, codec.ErrInvalid)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("got %q, want it to say %q", err, tc.detail)
			}
			if !bytes.Equal(out, []byte("kept")) {
				t.Errorf("got dst %q, want it unchanged", out)
			}
		})
	}
}

// invalidBase is a valid batch that each case of TestEncodeInvalid breaks.
func invalidBase() *codec.Batch {
	clock := codec.Clock{HLC: 5}
	return &codec.Batch{First: 1, Last: 2, Sites: []change.SiteID{siteA},
		Tables: []codec.Table{{Name: "t", Columns: []string{"a", "b", "c"}}},
		Changes: []codec.Change{{Op: change.Update, Key: []any{"k"}, Clock: clock,
			Columns: []int{0, 2}, Values: []any{int64(1), "x"}, Clocks: []codec.Clock{clock, clock}}},
	}
}

// The encoder keeps the body as is when zstd would not shrink it.
func TestEncodeStoresIncompressibleBody(t *testing.T) {
	d := MustDecoder(t, codec.Limits{})
	for name, tc := range map[string]struct {
		b          *codec.Batch
		compressed bool
	}{
		"tiny":        {everyOpBatch(), false},
		"random blob": {blobBatch(randomBytes(4096)), false},
		"repetitive":  {blobBatch(make([]byte, 4096)), true},
		"empty":       {&codec.Batch{}, false},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := d.Header(MustEncode(t, tc.b))
			if err != nil {
				t.Fatal(err)
			}
			if h.Compressed() != tc.compressed {
				t.Errorf("got compressed %v, want %v (body %d bytes, stored %d)", h.Compressed(), tc.compressed, h.BodyLen, h.StoredLen)
			}
		})
	}
}
