package codec_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/codec"
)

// A malformed case changes a valid frame and expects one sentinel, with a
// detail that says what was wrong.
type malformed struct {
	name   string
	frame  func() []byte
	limits codec.Limits
	want   error
	detail string
}

func TestDecodeMalformedHeader(t *testing.T) { runMalformed(t, headerCases()) }
func TestDecodeMalformedBody(t *testing.T)   { runMalformed(t, bodyCases()) }
func TestDecodeMalformedChange(t *testing.T) { runMalformed(t, changeCases()) }

func headerCases() []malformed {
	return []malformed{
		{"empty", func() []byte { return nil }, codec.Limits{}, codec.ErrTruncated, "0 bytes"},
		{"wrong magic", edit(func(f []byte) { f[0] = 'X' }), codec.Limits{}, codec.ErrBadMagic, `got "XLTS"`},
		{"magic only", cut(4), codec.Limits{}, codec.ErrTruncated, "header is 4 bytes"},
		{"not a frame", func() []byte { return []byte("{\"json\":1}") }, codec.Limits{}, codec.ErrBadMagic, "want \"DLTS\""},
		{"unsupported version", edit(func(f []byte) { f[offVersion] = 4 }), codec.Limits{}, codec.ErrVersion, "format version 4, this codec reads 3"},
		{"version 2", edit(func(f []byte) { f[offVersion] = 2 }), codec.Limits{}, codec.ErrVersion, "format version 2, this codec reads 3"},
		{"unknown flag", fixed(func(f []byte) { f[offFlags] |= 0x80 }), codec.Limits{}, codec.ErrVersion, "unknown flags 0x80"},
		{"reserved bits", fixed(func(f []byte) { f[offReserved+1] = 1 }), codec.Limits{}, codec.ErrVersion, "reserved"},
		{"header checksum", edit(func(f []byte) { f[10] ^= 1 }), codec.Limits{}, codec.ErrChecksum, "header crc"},
		{"truncated header", cut(codec.HeaderSize - 1), codec.Limits{}, codec.ErrTruncated, "header is 99 bytes"},
		{"last before first", fixed(func(f []byte) { binary.BigEndian.PutUint64(f[offFirst:], 2000) }), codec.Limits{}, codec.ErrCorrupt, "before first"},
		{"head before last", fixed(func(f []byte) { binary.BigEndian.PutUint64(f[offHead:], 1) }), codec.Limits{}, codec.ErrCorrupt, "head version 1 before last"},
		{"body length over limit", fixed(put32(offBodyLen, 1<<20+1)), codec.Limits{MaxBody: 1 << 20}, codec.ErrTooLarge, "limit 1048576"},
		{"frame over limit", validFrame, codec.Limits{MaxFrame: 100}, codec.ErrTooLarge, "limit 100"},
		{"change count over limit", fixed(put32(offChanges, 11)), codec.Limits{MaxChanges: 10}, codec.ErrTooLarge, "11 changes, limit 10"},
		{"change count beyond body", fixed(put32(offChanges, 1_000_000)), codec.Limits{}, codec.ErrCorrupt, "cannot fit"},
		// A change takes at least 8 bytes: 2 cannot fit in 15 after the 3 counts.
		{"change count one over body", func() []byte { return rawFrame(make([]byte, 18), 2) }, codec.Limits{}, codec.ErrCorrupt, "2 changes cannot fit in a body of 18 bytes"},
		{"body too short", func() []byte { return rawFrame([]byte{0, 0}, 0) }, codec.Limits{}, codec.ErrCorrupt, "body of 2 bytes, the least is 3"},
		{"shortest body", func() []byte { return rawFrame([]byte{0, 0, 0}, 0) }, codec.Limits{}, nil, ""},
	}
}

func bodyCases() []malformed {
	return []malformed{
		{"body checksum", edit(func(f []byte) { f[len(f)-1] ^= 1 }), codec.Limits{}, codec.ErrChecksum, "body crc"},
		{"truncated body", cut(-1), codec.Limits{}, codec.ErrTruncated, "header says"},
		{"stored length over actual", fixed(add32(offStoredLen, 1)), codec.Limits{}, codec.ErrTruncated, "header says"},
		{"stored length under actual", fixed(add32(offStoredLen, -1)), codec.Limits{}, codec.ErrCorrupt, "1 bytes after"},
		{"bytes after the frame", func() []byte { return append(validFrame(), 0) }, codec.Limits{}, codec.ErrCorrupt, "1 bytes after"},
		{"decompresses to less than declared", fixed(add32(offBodyLen, 1)), codec.Limits{}, codec.ErrCorrupt, "decompresses to"},
		{"decompresses to more than declared", fixed(add32(offBodyLen, -1)), codec.Limits{}, codec.ErrTooLarge, "more than"},
		{"not zstd", func() []byte { return frameOf([]byte("not zstd at all"), 100, 1, true) }, codec.Limits{}, codec.ErrCorrupt, "zstd"},
		{"raw body with two lengths", fixed(func(f []byte) { f[offFlags] = 0 }), codec.Limits{}, codec.ErrCorrupt, "uncompressed body stored in"},
	}
}

// prefix is a body's sites, tables and heap: one site, table "t" with
// columns "a" and "b", and the heap given. Cases append the bytes of changes.
func prefix(heap string) []byte {
	b := append([]byte{1}, make([]byte, 16)...)
	b = append(b, 1, 1, 't', 2, 1, 'a', 1, 'b', byte(len(heap)))
	return append(b, heap...)
}

// change is the bytes of a change: table 0, insert, key int 1, row clock
// site 0, HLC delta 1, Seen delta 0, then cols (count first).
func changeBytes(cols ...byte) []byte {
	return opChange(change.Insert, cols...)
}

// opChange is change with another op.
func opChange(op change.Op, cols ...byte) []byte {
	return append([]byte{0, byte(op), 1, 1, 2, 0, 2, 0}, cols...)
}

func body(changes uint32, tail ...byte) func() []byte {
	return heapBody("", changes, tail...)
}

func heapBody(heap string, changes uint32, tail ...byte) func() []byte {
	return func() []byte { return rawFrame(append(prefix(heap), tail...), changes) }
}

func changeCases() []malformed {
	none := codec.Limits{}
	return []malformed{
		{"valid change", body(1, changeBytes(1, 0, 0)...), none, nil, ""},
		{"trailing bytes", body(1, append(changeBytes(0), 0)...), none, codec.ErrCorrupt, "1 bytes after the last change"},
		{"change missing", body(2, changeBytes(0)...), none, codec.ErrCorrupt, "change 1: unexpected end of body"},
		{"table index", body(1, 5, 1, 1, 0, 0, 0, 0, 0), none, codec.ErrCorrupt, "change 0: table index 5 of 1"},
		{"unknown op 0", body(1, 0, 0, 1, 0, 0, 0, 0, 0), none, codec.ErrCorrupt, "unknown op 0"},
		{"unknown op 5", body(1, 0, 5, 1, 0, 0, 0, 0, 0), none, codec.ErrCorrupt, "unknown op 5"},
		{"key count 0", body(1, 0, 1, 0, 0, 0, 0, 0, 0), none, codec.ErrCorrupt, "key of 0 values"},
		{"key count 5", body(1, 0, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0), none, codec.ErrCorrupt, "key of 5 values"},
		{"unknown value tag", body(1, 0, 1, 1, 9, 0, 0, 0, 0), none, codec.ErrCorrupt, "key 0: unknown value tag 9"},
		{"row site index", body(1, 0, 1, 1, 0, 1, 0, 0, 0), none, codec.ErrCorrupt, "row clock: site index 1 of 1"},
		{"column index", body(1, changeBytes(1, 4, 0)...), none, codec.ErrCorrupt, "column 0: column index 2 of 2"},
		{"column index after last", body(1, changeBytes(2, 2, 0, 0, 0)...), none, codec.ErrCorrupt, "column 1: column index 2 of 2"},
		{"huge column gap", body(1, changeBytes(1, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0)...), none, codec.ErrCorrupt, "column index"},
		{"column site index", body(1, changeBytes(1, 1, 0, 3, 2, 0)...), none, codec.ErrCorrupt, "column 0: site index 3 of 1"},
		{"more columns than the table", body(1, changeBytes(3, 0, 0, 0, 0, 0, 0)...), none, codec.ErrCorrupt, "3 columns, table 0 has 2"},
		{"huge column count", body(1, changeBytes(0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0)...), none, codec.ErrCorrupt, "cannot fit"},
		{"delete with columns", body(1, 0, 3, 1, 0, 0, 0, 0, 1, 0, 0), none, codec.ErrCorrupt, "delete with 1 columns"},
		{"valid own column clock", body(1, changeBytes(1, 1, 0, 0, 4, 6)...), none, nil, ""},
		{"valid lost", body(1, opChange(change.Lost, 2, 0, 0, 1, 0, 0, 4, 6)...), none, nil, ""},
		{"valid lost without columns", body(1, opChange(change.Lost, 0)...), none, nil, ""},
		{"lost column index", body(1, opChange(change.Lost, 1, 4, 0)...), none, codec.ErrCorrupt, "column 0: column index 2 of 2"},
		{"lost more columns than the table", body(1, opChange(change.Lost, 3, 0, 0, 0, 0, 0, 0)...), none, codec.ErrCorrupt, "3 columns, table 0 has 2"},
		{"row seen missing", body(1, 0, 1, 1, 0, 0, 2), none, codec.ErrCorrupt, "change 0: row clock: seen: unexpected end of body"},
		{"row seen cut short", body(1, 0, 1, 1, 0, 0, 2, 0x80), none, codec.ErrCorrupt, "change 0: row clock: seen: unexpected end of body"},
		{"row seen overflow", body(1, 0, 1, 1, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0), none, codec.ErrCorrupt, "row clock: seen: varint overflows"},
		{"column seen cut short", body(1, changeBytes(1, 1, 0, 0, 2, 0xff, 0xff)...), none, codec.ErrCorrupt, "change 0: column 0: seen: unexpected end of body"},
		{"unknown value tag in column", body(1, changeBytes(1, 0, 7)...), none, codec.ErrCorrupt, "column 0: unknown value tag 7"},
		{"valid text", heapBody("xyz", 1, changeBytes(2, 0, 3, 2, 0, 4, 1)...), none, nil, ""},
		{"text longer than heap", heapBody("x", 1, changeBytes(1, 0, 3, 100)...), none, codec.ErrCorrupt, "column 0: text of 100 bytes, 1 heap bytes left"},
		{"blob longer than heap", heapBody("x", 1, changeBytes(1, 0, 4, 2)...), none, codec.ErrCorrupt, "column 0: blob of 2 bytes, 1 heap bytes left"},
		{"heap bytes left over", heapBody("xyz", 1, changeBytes(1, 0, 3, 2)...), none, codec.ErrCorrupt, "1 heap bytes after the last value"},
		{"heap longer than body", func() []byte { return rawFrame([]byte{0, 0, 100, 'x'}, 0) }, none, codec.ErrCorrupt, "heap: 100 heap bytes cannot fit"},
		{"real cut short", body(1, changeBytes(1, 0, 2, 1, 2, 3, 4, 5, 6)...), none, codec.ErrCorrupt, "unexpected end"},
		{"varint overflow", body(1, changeBytes(1, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)...), none, codec.ErrCorrupt, "overflows"},
		{"huge site count", func() []byte { return rawFrame([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0}, 0) }, none, codec.ErrCorrupt, "sites: 4294967295 sites cannot fit"},
		{"huge table count", func() []byte { return rawFrame([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0}, 0) }, none, codec.ErrCorrupt, "tables: 4294967295 tables cannot fit"},
		{"column named twice", func() []byte { return rawFrame(namesBody([]string{"t", "a", "a"}), 0) }, none, codec.ErrCorrupt, `tables: table 0: column 1: column "a" of table "t" named twice`},
		{"table named twice", func() []byte { return rawFrame(namesBody([]string{"t", "a"}, []string{"t", "b"}), 0) }, none, codec.ErrCorrupt, `tables: table 1: table "t" named twice`},
		{"same column in two tables", func() []byte { return rawFrame(namesBody([]string{"t", "a"}, []string{"u", "a"}), 0) }, none, nil, ""},
		{"huge table column count", func() []byte { return rawFrame([]byte{0, 1, 0, 0xff, 0xff, 0xff, 0x0f, 0}, 0) }, none, codec.ErrCorrupt, "table 0: 33554431 columns cannot fit"},
	}
}

// namesBody is a body with one site, the tables given (each its name then
// its columns), an empty heap and no change.
func namesBody(tables ...[]string) []byte {
	b := append([]byte{1}, make([]byte, 16)...)
	b = append(b, byte(len(tables)))
	for _, t := range tables {
		b = append(b, byte(len(t[0])))
		b = append(b, t[0]...)
		b = append(b, byte(len(t)-1))
		for _, c := range t[1:] {
			b = append(b, byte(len(c)))
			b = append(b, c...)
		}
	}
	return append(b, 0)
}

func runMalformed(t *testing.T, cases []malformed) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MustDecoder(t, tc.limits).Decode(tc.frame())
			if tc.want == nil {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("got %q, want it to say %q", err, tc.detail)
			}
		})
	}
}

// validFrame is a compressed frame of a few changes.
func validFrame() []byte {
	b := tablesAndSitesBatch()
	e, err := codec.NewEncoder()
	if err != nil {
		panic(err)
	}
	defer e.Close()
	frame, err := e.Encode(nil, b)
	if err != nil {
		panic(err)
	}
	if frame[offFlags] != codec.FlagZstd {
		panic("validFrame is not compressed")
	}
	return frame
}

// edit changes a valid frame and leaves its checksums as they were.
func edit(f func([]byte)) func() []byte {
	return func() []byte {
		frame := validFrame()
		f(frame)
		return frame
	}
}

// fixed changes a valid frame and fixes its checksums, so that the check
// after them is what fails.
func fixed(f func([]byte)) func() []byte {
	return func() []byte {
		frame := validFrame()
		f(frame)
		return fixCRCs(frame)
	}
}

// cut keeps the first n bytes of a valid frame, or drops the last -n.
func cut(n int) func() []byte {
	return func() []byte {
		frame := validFrame()
		if n < 0 {
			n += len(frame)
		}
		return frame[:n]
	}
}

func put32(off int, v uint32) func([]byte) {
	return func(f []byte) { binary.BigEndian.PutUint32(f[off:], v) }
}

func add32(off int, d int) func([]byte) {
	return func(f []byte) { binary.BigEndian.PutUint32(f[off:], uint32(int(binary.BigEndian.Uint32(f[off:]))+d)) }
}
