package codec_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/codec"
)

var (
	siteA = change.SiteID{0: 0xaa, 15: 1}
	siteB = change.SiteID{0: 0xbb, 15: 2}
	siteC = change.SiteID{0: 0xcc, 15: 3}
)

// edgeValues is one of every storage class, with the edges of each.
var edgeValues = []any{
	nil,
	int64(0), int64(1), int64(-1), int64(math.MaxInt64), int64(math.MinInt64),
	0.1 + 0.2, 1e308, math.Copysign(0, -1), 0.0, math.Inf(1), math.Inf(-1),
	math.Float64frombits(0x7ff8_0000_dead_beef), // a NaN with a payload
	math.SmallestNonzeroFloat64,
	"", "plain", "nul\x00inside", "bad utf-8 \xff\xfe", "héllo wörld 日本語 🎉",
	[]byte{}, []byte{0}, []byte("blob\x00\xff"),
}

// roundTripCases are batches that must come back from the wire unchanged.
func roundTripCases() map[string]*codec.Batch {
	return map[string]*codec.Batch{
		"empty":            {First: 7, Last: 7},
		"every value":      everyValueBatch(),
		"every op":         everyOpBatch(),
		"tables and sites": tablesAndSitesBatch(),
		"clock edges":      clockEdgesBatch(),
		"seen":             seenBatch(),
		"lost":             lostBatch(),
		"unicode names":    unicodeBatch(),
		"1 MB random blob": blobBatch(randomBytes(1 << 20)),
		"1 MB zero blob":   blobBatch(make([]byte, 1<<20)),
		"composite keys":   compositeKeyBatch(),
	}
}

func TestRoundTrip(t *testing.T) {
	for name, b := range roundTripCases() {
		t.Run(name, func(t *testing.T) {
			frame := MustEncode(t, b)
			got, err := MustDecoder(t, codec.Limits{}).Decode(frame)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !sameBatch(got, b) {
				t.Errorf("got %+v\nwant %+v", got, b)
			}
		})
	}
}

// TestRoundTripClasses checks value by value that each comes back with its
// Go type, that is its storage class, and for REAL with its exact bits.
func TestRoundTripClasses(t *testing.T) {
	b := everyValueBatch()
	got, err := MustDecoder(t, codec.Limits{}).Decode(MustEncode(t, b))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range edgeValues {
		v := got.Changes[0].Values[i]
		switch w := want.(type) {
		case float64:
			f, ok := v.(float64)
			if !ok || math.Float64bits(f) != math.Float64bits(w) {
				t.Errorf("value %d: got %T %x, want float64 %x", i, v, math.Float64bits(f), math.Float64bits(w))
			}
		case []byte:
			if bl, ok := v.([]byte); !ok || bl == nil || !bytes.Equal(bl, w) {
				t.Errorf("value %d: got %T %q, want non-nil []byte %q", i, v, v, w)
			}
		default:
			if v != want {
				t.Errorf("value %d: got %T %#v, want %T %#v", i, v, v, want, want)
			}
		}
	}
}

// A nil []byte is a BLOB, empty, not NULL: the type says which class it is.
func TestNilBlobIsEmptyBlob(t *testing.T) {
	b := blobBatch(nil)
	got, err := MustDecoder(t, codec.Limits{}).Decode(MustEncode(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Changes[0].Values[0].([]byte); !ok || v == nil || len(v) != 0 {
		t.Errorf("got %#v, want []byte{}", got.Changes[0].Values[0])
	}
}

// The decoded batch must not alias the frame, which callers reuse.
func TestDecodeDoesNotAlias(t *testing.T) {
	frame := MustEncode(t, blobBatch([]byte("short")))
	got, err := MustDecoder(t, codec.Limits{}).Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	clear(frame)
	if v := got.Changes[0].Values[0].([]byte); string(v) != "short" {
		t.Errorf("got %q after clearing the frame, want %q", v, "short")
	}
}

// Encode appends: what dst held before stays, and the frame follows.
func TestEncodeAppends(t *testing.T) {
	e := MustEncoder(t)
	prefix := []byte("prefix")
	out, err := e.Encode(prefix, everyOpBatch())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, prefix) {
		t.Fatalf("got %q..., want prefix %q", out[:len(prefix)], prefix)
	}
	if _, err := MustDecoder(t, codec.Limits{}).Decode(out[len(prefix):]); err != nil {
		t.Errorf("decode: %v", err)
	}
}

func TestHeader(t *testing.T) {
	b := everyOpBatch()
	frame := MustEncode(t, b)
	h, err := MustDecoder(t, codec.Limits{}).Header(frame[:codec.HeaderSize])
	if err != nil {
		t.Fatal(err)
	}
	if h.Fingerprint != b.Fingerprint || h.Origin != b.Origin || h.First != b.First || h.Last != b.Last || h.Head != b.Head {
		t.Errorf("got %+v, want the batch's fingerprint, origin and versions", h)
	}
	if int(h.Changes) != len(b.Changes) || h.FrameLen() != int64(len(frame)) {
		t.Errorf("got %d changes in %d bytes, want %d in %d", h.Changes, h.FrameLen(), len(b.Changes), len(frame))
	}
}

func everyValueBatch() *codec.Batch {
	cols := make([]string, len(edgeValues))
	c := codec.Change{Table: 0, Op: change.Insert, Key: []any{int64(1)}, Clock: codec.Clock{HLC: 100}}
	for i, v := range edgeValues {
		cols[i] = string(rune('a' + i))
		c.Columns = append(c.Columns, i)
		c.Values = append(c.Values, v)
		c.Clocks = append(c.Clocks, c.Clock)
	}
	b := &codec.Batch{First: 1, Last: 2, Origin: siteA, Sites: []change.SiteID{siteA},
		Tables: []codec.Table{{Name: "t", Columns: cols}}, Changes: []codec.Change{c}}
	// Every value as a key too.
	for i, v := range edgeValues {
		b.Changes = append(b.Changes, codec.Change{Op: change.Delete, Key: []any{v}, Clock: codec.Clock{HLC: change.HLC(200 + i)}})
	}
	return b
}

func everyOpBatch() *codec.Batch {
	clock := codec.Clock{HLC: 1 << 20}
	return &codec.Batch{
		Fingerprint: [32]byte{1, 2, 3, 31: 0xff},
		Origin:      siteA,
		First:       41, Last: 44, Head: 50,
		Sites:  []change.SiteID{siteA},
		Tables: []codec.Table{{Name: "notes", Columns: []string{"title", "body", "pinned"}}},
		Changes: []codec.Change{
			{Op: change.Insert, Key: []any{"n1"}, Clock: clock, Columns: []int{0, 1, 2},
				Values: []any{"groceries", "milk", int64(0)}, Clocks: []codec.Clock{clock, clock, clock}},
			{Op: change.Update, Key: []any{"n2"}, Clock: clock, Columns: []int{1},
				Values: []any{"eggs"}, Clocks: []codec.Clock{{HLC: clock.HLC + 1}}},
			{Op: change.Delete, Key: []any{"n3"}, Clock: codec.Clock{HLC: clock.HLC + 2}},
			{Op: change.Lost, Key: []any{"n4"}, Clock: codec.Clock{HLC: clock.HLC - 5, Seen: 40}, Columns: []int{0},
				Values: []any{"chores"}, Clocks: []codec.Clock{{HLC: clock.HLC - 5, Seen: 40}}},
		},
	}
}

func tablesAndSitesBatch() *codec.Batch {
	b := &codec.Batch{First: 0, Last: 1000, Head: 1200, Origin: siteB,
		Sites: []change.SiteID{siteA, siteB, siteC},
		Tables: []codec.Table{
			{Name: "a", Columns: []string{"x", "y", "z", "w"}},
			{Name: "b"}, // key columns only
			{Name: "c", Columns: []string{"only"}},
		},
	}
	for i := range 30 {
		b.Changes = append(b.Changes, mixedChange(i))
	}
	return b
}

// mixedChange varies table, op, sites and column clocks with i.
func mixedChange(i int) codec.Change {
	row := codec.Clock{HLC: 1e12 + change.HLC(i)*7919, Site: i % 3}
	c := codec.Change{Table: i % 3, Op: change.Op(1 + i%3), Key: []any{int64(i)}, Clock: row}
	if c.Op == change.Delete || c.Table == 1 {
		return c
	}
	cols := []int{0}
	if c.Table == 0 {
		cols = []int{i % 2, 2 + i%2}
	}
	for j, col := range cols {
		clk := row
		if (i+j)%2 == 1 {
			clk = codec.Clock{HLC: row.HLC - change.HLC(j*100), Site: (i + 1) % 3}
		}
		c.Columns = append(c.Columns, col)
		c.Values = append(c.Values, int64(i*j))
		c.Clocks = append(c.Clocks, clk)
	}
	return c
}

// clockEdgesBatch has HLCs that go down and wrap: deltas are signed.
func clockEdgesBatch() *codec.Batch {
	b := &codec.Batch{Sites: []change.SiteID{siteA}, Tables: []codec.Table{{Name: "t", Columns: []string{"v"}}}}
	for i, hlc := range []change.HLC{0, math.MaxUint64, 1, math.MaxUint64 - 1, 1 << 63, 5, 5} {
		col := codec.Clock{HLC: hlc ^ 0xffff}
		b.Changes = append(b.Changes, codec.Change{Op: change.Update, Key: []any{int64(i)},
			Clock: codec.Clock{HLC: hlc}, Columns: []int{0}, Values: []any{nil}, Clocks: []codec.Clock{col}})
	}
	return b
}

// seenBatch has Seens at the edges, going up and down, differing between
// row and column clocks, and differing only in Seen, which makes a column's
// clock its own.
func seenBatch() *codec.Batch {
	const maxSeen = math.MaxInt64
	row := func(hlc change.HLC, site int, seen change.Version) codec.Clock {
		return codec.Clock{HLC: hlc, Site: site, Seen: seen}
	}
	b := &codec.Batch{First: 3, Last: 9, Origin: siteB, Sites: []change.SiteID{siteA, siteB, siteC},
		Tables: []codec.Table{{Name: "t", Columns: []string{"a", "b", "c"}}}}
	add := func(op change.Op, clock codec.Clock, cols []int, clocks ...codec.Clock) {
		c := codec.Change{Op: op, Key: []any{int64(len(b.Changes))}, Clock: clock, Columns: cols, Clocks: clocks}
		for j := range cols {
			c.Values = append(c.Values, int64(j))
		}
		b.Changes = append(b.Changes, c)
	}
	r := row(100, 0, 0)
	add(change.Insert, r, []int{0, 1, 2}, r, row(100, 0, 7), row(100, 0, maxSeen))
	r = row(101, 1, maxSeen)
	add(change.Update, r, []int{1, 2}, r, row(99, 2, 0))
	add(change.Delete, row(102, 2, 1<<62), nil)
	r = row(50, 0, 42)
	add(change.Lost, r, []int{0, 2}, row(40, 0, 41), r)
	r = row(maxSeen, 1, maxSeen-1)
	add(change.Update, r, []int{0, 1}, row(maxSeen, 1, 1), row(maxSeen, 1, maxSeen))
	for i := range 4 {
		r = row(200+change.HLC(i), i%3, 1234)
		add(change.Insert, r, []int{0, 2}, r, row(190, 0, 1234))
	}
	return b
}

// lostBatch has lost notices with columns, own clocks among them, and
// without, as for a lost delete, between other ops.
func lostBatch() *codec.Batch {
	row := codec.Clock{HLC: 1 << 40, Site: 1, Seen: 17}
	col := codec.Clock{HLC: 1<<40 - 3, Site: 0, Seen: 16}
	return &codec.Batch{First: 0, Last: 4, Origin: siteA, Sites: []change.SiteID{siteA, siteB},
		Tables: []codec.Table{{Name: "notes", Columns: []string{"title", "body", "pinned"}}, {Name: "tags"}},
		Changes: []codec.Change{
			{Op: change.Lost, Key: []any{"n1"}, Clock: row, Columns: []int{0, 2},
				Values: []any{"lost title", int64(1)}, Clocks: []codec.Clock{row, col}},
			{Op: change.Lost, Key: []any{"n2"}, Clock: col},
			{Op: change.Update, Key: []any{"n3"}, Clock: row, Columns: []int{1},
				Values: []any{"kept"}, Clocks: []codec.Clock{row}},
			{Table: 1, Op: change.Lost, Key: []any{"n1", "tag"}, Clock: row},
			{Op: change.Lost, Key: []any{"n4"}, Clock: row, Columns: []int{0, 1, 2},
				Values: []any{nil, []byte{}, 2.5}, Clocks: []codec.Clock{row, row, row}},
		},
	}
}

// TestSeenCost checks what Seen costs on the wire: one zero byte a clock
// when Seens are equal, whatever their value, and nothing for a column whose
// clock is the row's; a column whose clock differs from the row's in Seen
// alone carries its own clock.
func TestSeenCost(t *testing.T) {
	bodyLen := func(b *codec.Batch) int {
		t.Helper()
		h, err := MustDecoder(t, codec.Limits{}).Header(MustEncode(t, b))
		if err != nil {
			t.Fatal(err)
		}
		return int(h.BodyLen)
	}
	withSeen := func(seen func(i, j int) change.Version) *codec.Batch {
		b := newWorkload(4, 200).batch
		for i := range b.Changes {
			c := &b.Changes[i]
			c.Clock.Seen = seen(i, -1)
			for j := range c.Clocks {
				c.Clocks[j].Seen = seen(i, j)
			}
		}
		return b
	}
	zero := bodyLen(withSeen(func(int, int) change.Version { return 0 }))
	// Equal Seens: only the first clock's delta is more than a zero byte.
	if got := bodyLen(withSeen(func(int, int) change.Version { return 60 })); got != zero {
		t.Errorf("Seens all 60: body of %d bytes, want %d as with Seens all 0", got, zero)
	}
	// Seens all the largest version: only the first delta, from 0, is
	// longer, by the 9 bytes more of a varint of 2^63-1.
	if got := bodyLen(withSeen(func(int, int) change.Version { return math.MaxInt64 })); got != zero+9 {
		t.Errorf("Seens all max: body of %d bytes, want %d (%d as with Seens all 0, and 9 for the first delta)", got, zero+9, zero)
	}
	// A column Seen of its own: every column carries a whole clock.
	own := withSeen(func(i, j int) change.Version { return change.Version(j + 1) })
	cols := 0
	for _, c := range own.Changes {
		cols += len(c.Columns)
	}
	// Each is 3 bytes: site, HLC delta 0, Seen delta; the next row clock's
	// Seen delta back to 0 is a byte, as its zero delta was.
	if got := bodyLen(own); got != zero+3*cols {
		t.Errorf("column Seens differ from the row's: body of %d bytes, want %d (3 bytes a column clock)", got, zero+3*cols)
	}
	got, err := MustDecoder(t, codec.Limits{}).Decode(MustEncode(t, own))
	if err != nil {
		t.Fatal(err)
	}
	if !sameBatch(got, own) {
		t.Errorf("batch with own column Seens changed on the way")
	}
}

func unicodeBatch() *codec.Batch {
	clock := codec.Clock{HLC: 9}
	return &codec.Batch{Sites: []change.SiteID{{}},
		Tables: []codec.Table{{Name: "日本 \"table\"; DROP", Columns: []string{"", "çolümn", "a\x00b", "🎉"}}},
		Changes: []codec.Change{{Op: change.Insert, Key: []any{"ключ"}, Clock: clock,
			Columns: []int{0, 3}, Values: []any{"x", "y"}, Clocks: []codec.Clock{clock, clock}}},
	}
}

func blobBatch(blob []byte) *codec.Batch {
	clock := codec.Clock{HLC: 1}
	return &codec.Batch{Sites: []change.SiteID{siteA},
		Tables: []codec.Table{{Name: "files", Columns: []string{"data"}}},
		Changes: []codec.Change{{Op: change.Insert, Key: []any{"f"}, Clock: clock,
			Columns: []int{0}, Values: []any{blob}, Clocks: []codec.Clock{clock}}},
	}
}

func compositeKeyBatch() *codec.Batch {
	clock := codec.Clock{HLC: 3}
	return &codec.Batch{Sites: []change.SiteID{siteA},
		Tables: []codec.Table{{Name: "m"}},
		Changes: []codec.Change{
			{Op: change.Insert, Key: []any{int64(1), "two", 3.0, []byte{4}}, Clock: clock},
			{Op: change.Delete, Key: []any{nil, nil}, Clock: clock},
		},
	}
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Encoder and Decoder are documented safe for concurrent use.
func TestConcurrentUse(t *testing.T) {
	e, d := MustEncoder(t), MustDecoder(t, codec.Limits{})
	batches := []*codec.Batch{everyOpBatch(), tablesAndSitesBatch(), newWorkload(3, 100).batch}
	done := make(chan error)
	for i := range 8 {
		go func() {
			b := batches[i%len(batches)]
			for range 20 {
				frame, err := e.Encode(nil, b)
				if err != nil {
					done <- err
					return
				}
				got, err := d.Decode(frame)
				if err == nil && !sameBatch(got, b) {
					err = fmt.Errorf("batch %d changed on the way", i%len(batches))
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
