package codec_test

import (
	"strings"
	"testing"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/codec"
)

// TestDecodeMemoryPerBodyByte backs the bound in the package doc: a decoded
// batch takes at most about 28 bytes of memory per body byte, for the
// shapes that cost the most per byte.
func TestDecodeMemoryPerBodyByte(t *testing.T) {
	for name, b := range map[string]*codec.Batch{
		"deletes of NULL keys": manyChanges(20_000, 0),
		"NULL columns":         manyChanges(100, 200),
	} {
		t.Run(name, func(t *testing.T) {
			frame := MustEncode(t, b)
			d := MustDecoder(t, codec.Limits{})
			h, err := d.Header(frame)
			if err != nil {
				t.Fatal(err)
			}
			d.Decode(frame)
			alloc := allocated(func() {
				if _, err := d.Decode(frame); err != nil {
					t.Fatal(err)
				}
			})
			perByte := float64(alloc) / float64(h.BodyLen)
			t.Logf("%d-byte body: %d bytes allocated, %.1f per body byte", h.BodyLen, alloc, perByte)
			if perByte > 28 {
				t.Errorf("got %.1f bytes per body byte, want at most 28", perByte)
			}
		})
	}
}

// manyChanges has n changes of cols NULL columns each, all on one clock.
// Column names are as short as distinct names can be.
func manyChanges(n, cols int) *codec.Batch {
	names := make([]string, cols)
	for j := range names {
		names[j] = string(rune('0'+j%64)) + strings.Repeat("x", j/64)
	}
	b := &codec.Batch{Sites: []change.SiteID{siteA}, Tables: []codec.Table{{Name: "t", Columns: names}}}
	for range n {
		c := codec.Change{Op: change.Delete, Key: []any{nil}}
		if cols > 0 {
			c.Op = change.Update
			c.Columns, c.Values, c.Clocks = make([]int, cols), make([]any, cols), make([]codec.Clock, cols)
			for j := range cols {
				c.Columns[j] = j
			}
		}
		b.Changes = append(b.Changes, c)
	}
	return b
}
