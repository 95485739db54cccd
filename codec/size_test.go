package codec_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/change"

	"github.com/klauspost/compress/zstd"

	"github.com/deltasync/deltasync/codec"
)

// The wire-size target: bytes per changed row, compressed, at most this
// fraction of the same rows as compressed JSON.
const maxJSONRatio = 0.8

// notesColumns are the non-key columns of the 7-column table that the size
// measurement writes; its key is a UUID-like TEXT id.
var notesColumns = []string{"title", "body", "priority", "done", "score", "updated_at"}

// workload is a realistic batch: 60% inserts of new rows, 30% updates of 1
// or 2 columns of existing rows, 10% deletes of existing rows, with the
// full rows as a JSON sync protocol would send them.
type workload struct {
	batch *codec.Batch
	json  jsonBatch // full rows
	delta jsonBatch // only the columns that changed, as the codec sends
}

type jsonBatch struct {
	Origin  string       `json:"origin"`
	First   uint64       `json:"first"`
	Last    uint64       `json:"last"`
	Changes []jsonChange `json:"changes"`
}

type jsonChange struct {
	Table string         `json:"table"`
	Op    string         `json:"op"`
	HLC   uint64         `json:"hlc"`
	Site  string         `json:"site"`
	Row   map[string]any `json:"row"`
}

// gen makes the rows of a workload from a seeded source.
type gen struct {
	r     *rand.Rand
	words []string
	hlc   change.HLC
}

func newGen(seed uint64) *gen {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed)), hlc: 1_732_000_000_000 << 16}
	syl := []string{"ka", "lo", "mi", "ter", "san", "do", "ri", "ven", "pa", "tu", "shi", "mor", "el", "an", "qu", "ix"}
	for range 2000 {
		var w strings.Builder
		for range 1 + g.r.IntN(3) {
			w.WriteString(syl[g.r.IntN(len(syl))])
		}
		g.words = append(g.words, w.String())
	}
	return g
}

// text is n words, drawn with a skew like natural language's.
func (g *gen) text(n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = g.words[int(float64(len(g.words))*math.Pow(g.r.Float64(), 3))]
	}
	return strings.Join(ws, " ")
}

func (g *gen) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// value is a fresh value for column c.
func (g *gen) value(c int) any {
	switch notesColumns[c] {
	case "title":
		return g.text(2 + g.r.IntN(5))
	case "body":
		return g.text(10 + g.r.IntN(50))
	case "priority":
		return int64(g.r.IntN(6))
	case "done":
		return int64(g.r.IntN(2))
	case "score":
		return math.Round(g.r.Float64()*10000) / 100
	default: // updated_at, milliseconds
		return int64(g.hlc >> 16)
	}
}

// tick advances the clock as writes a few hundred milliseconds apart do.
func (g *gen) tick() codec.Clock {
	g.hlc += change.HLC(g.r.IntN(500)) << 16
	g.hlc += change.HLC(g.r.IntN(3))
	return codec.Clock{HLC: g.hlc}
}

func (g *gen) row() []any {
	row := make([]any, len(notesColumns))
	for c := range row {
		row[c] = g.value(c)
	}
	return row
}

func newWorkload(seed uint64, n int) *workload {
	g := newGen(seed)
	w := &workload{batch: &codec.Batch{
		Origin: siteA, First: 1000, Last: change.Version(1000 + n), Sites: []change.SiteID{siteA},
		Tables: []codec.Table{{Name: "notes", Columns: notesColumns}},
	}}
	w.json = jsonBatch{Origin: hex.EncodeToString(siteA[:]), First: 1000, Last: uint64(1000 + n)}
	w.delta = w.json
	for range n {
		w.add(g)
	}
	return w
}

// add appends one change; updates and deletes hit rows that existed before
// the batch, since the changelog coalesces changes of one row in a batch.
func (w *workload) add(g *gen) {
	clock := g.tick()
	id, old := g.uuid(), g.row()
	c := codec.Change{Key: []any{id}, Clock: clock}
	full := map[string]any{"id": id}
	switch p := g.r.IntN(10); {
	case p < 6:
		c.Op = change.Insert
		old = g.row()
		c.Columns = []int{0, 1, 2, 3, 4, 5}
	case p < 9:
		c.Op = change.Update
		c.Columns = pickColumns(g)
	default:
		c.Op = change.Delete
	}
	delta := map[string]any{"id": id}
	for _, col := range c.Columns {
		if c.Op == change.Update {
			old[col] = g.value(col)
		}
		c.Values = append(c.Values, old[col])
		c.Clocks = append(c.Clocks, clock)
		delta[notesColumns[col]] = old[col]
	}
	if c.Op != change.Delete {
		for col, v := range old {
			full[notesColumns[col]] = v
		}
	}
	w.batch.Changes = append(w.batch.Changes, c)
	site := hex.EncodeToString(siteA[:])
	w.json.Changes = append(w.json.Changes, jsonChange{"notes", c.Op.String(), uint64(clock.HLC), site, full})
	w.delta.Changes = append(w.delta.Changes, jsonChange{"notes", c.Op.String(), uint64(clock.HLC), site, delta})
}

// pickColumns picks 1 or 2 distinct columns, in increasing order.
func pickColumns(g *gen) []int {
	a := g.r.IntN(len(notesColumns))
	if g.r.IntN(2) == 0 {
		return []int{a}
	}
	b := g.r.IntN(len(notesColumns) - 1)
	if b >= a {
		b++
	}
	return []int{min(a, b), max(a, b)}
}

// zstdSize is the length of b compressed at level, as the Encoder does it.
func zstdSize(tb testing.TB, b []byte, level zstd.EncoderLevel) int {
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderCRC(false))
	if err != nil {
		tb.Fatal(err)
	}
	defer zw.Close()
	return len(zw.EncodeAll(b, nil))
}

func jsonSize(tb testing.TB, v jsonBatch, level zstd.EncoderLevel) int {
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return zstdSize(tb, b, level)
}

// bodyOf returns the uncompressed body of a frame.
func bodyOf(tb testing.TB, frame []byte) []byte {
	zr, err := zstd.NewReader(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer zr.Close()
	if frame[offFlags]&codec.FlagZstd == 0 {
		return frame[codec.HeaderSize:]
	}
	b, err := zr.DecodeAll(frame[codec.HeaderSize:], nil)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestWireSize measures bytes per changed row against zstd-compressed JSON
// of the same rows, at the Encoder's level, and logs the other levels: the
// choice of level rests on this.
//
//	go test ./codec -run WireSize -v
func TestWireSize(t *testing.T) {
	const rows = 1000
	w := newWorkload(1, rows)
	frame := MustEncode(t, w.batch)
	perRow := float64(len(frame)) / rows
	jsonPerRow := float64(jsonSize(t, w.json, codec.Level)) / rows
	deltaPerRow := float64(jsonSize(t, w.delta, codec.Level)) / rows
	ratio := perRow / jsonPerRow
	t.Logf("level %v: %.1f bytes/row; JSON full rows %.1f (ratio %.2f); JSON changed columns only %.1f (ratio %.2f)",
		codec.Level, perRow, jsonPerRow, ratio, deltaPerRow, perRow/deltaPerRow)
	if ratio > maxJSONRatio {
		t.Errorf("got %.2f of JSON's bytes per row, want at most %.2f", ratio, maxJSONRatio)
	}
	raw := bodyOf(t, frame)
	for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression} {
		n := codec.HeaderSize + zstdSize(t, raw, level)
		t.Logf("  level %-8v body %d -> frame %d bytes, %.1f bytes/row, ratio to JSON full rows %.2f, to JSON changed columns %.2f",
			level, len(raw), n, float64(n)/rows, float64(n)/float64(jsonSize(t, w.json, level)), float64(n)/float64(jsonSize(t, w.delta, level)))
	}
}

// BenchmarkEncode reports encode speed and bytes per row and the ratio to
// compressed JSON of full rows.
func BenchmarkEncode(b *testing.B) {
	for _, rows := range []int{100, 1000} {
		b.Run(fmt.Sprint(rows), func(b *testing.B) {
			w := newWorkload(1, rows)
			e := MustEncoder(b)
			var frame []byte
			for b.Loop() {
				var err error
				if frame, err = e.Encode(frame[:0], w.batch); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(bodyOf(b, frame))))
			b.ReportMetric(float64(len(frame))/float64(rows), "bytes/row")
			b.ReportMetric(float64(len(frame))/float64(jsonSize(b, w.json, codec.Level)), "ratio-to-json")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	w := newWorkload(1, 1000)
	frame := MustEncode(b, w.batch)
	d := MustDecoder(b, codec.Limits{})
	b.SetBytes(int64(len(bodyOf(b, frame))))
	for b.Loop() {
		if _, err := d.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}
