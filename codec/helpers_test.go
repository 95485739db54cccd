package codec_test

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"reflect"
	"testing"

	"github.com/deltasync/deltasync/codec"
)

// Header offsets, copied from the table in doc.go rather than from the code,
// so that the tests check the documented layout.
const (
	offVersion   = 4
	offFlags     = 5
	offReserved  = 6
	offFirst     = 56
	offLast      = 64
	offHead      = 72
	offChanges   = 80
	offBodyLen   = 84
	offStoredLen = 88
	offBodyCRC   = 92
	offHeaderCRC = 96
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MustEncoder returns an Encoder closed when the test ends.
func MustEncoder(tb testing.TB) *codec.Encoder {
	tb.Helper()
	e, err := codec.NewEncoder()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Close)
	return e
}

// MustDecoder returns a Decoder with limits l, closed when the test ends.
func MustDecoder(tb testing.TB, l codec.Limits) *codec.Decoder {
	tb.Helper()
	d, err := codec.NewDecoder(l)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(d.Close)
	return d
}

// MustEncode returns the frame of b.
func MustEncode(tb testing.TB, b *codec.Batch) []byte {
	tb.Helper()
	frame, err := MustEncoder(tb).Encode(nil, b)
	if err != nil {
		tb.Fatalf("encode: %v", err)
	}
	return frame
}

// fixCRCs recomputes both checksums of frame in place, after a test has
// changed a header field or the body on purpose.
func fixCRCs(frame []byte) []byte {
	if len(frame) < codec.HeaderSize {
		return frame
	}
	body := frame[codec.HeaderSize:]
	binary.BigEndian.PutUint32(frame[offBodyCRC:], crc32.Checksum(body, castagnoli))
	binary.BigEndian.PutUint32(frame[offHeaderCRC:], crc32.Checksum(frame[:offHeaderCRC], castagnoli))
	return frame
}

// frameOf wraps body in a header, as the doc's table describes it.
// compressed only sets the flag: body must already be zstd if it is set.
func frameOf(body []byte, bodyLen, changes uint32, compressed bool) []byte {
	frame := make([]byte, codec.HeaderSize, codec.HeaderSize+len(body))
	copy(frame, codec.Magic)
	frame[offVersion] = codec.Version
	if compressed {
		frame[offFlags] = codec.FlagZstd
	}
	binary.BigEndian.PutUint64(frame[offFirst:], 10)
	binary.BigEndian.PutUint64(frame[offLast:], 20)
	binary.BigEndian.PutUint32(frame[offChanges:], changes)
	binary.BigEndian.PutUint32(frame[offBodyLen:], bodyLen)
	binary.BigEndian.PutUint32(frame[offStoredLen:], uint32(len(body)))
	return fixCRCs(append(frame, body...))
}

// rawFrame wraps an uncompressed body.
func rawFrame(body []byte, changes uint32) []byte {
	return frameOf(body, uint32(len(body)), changes, false)
}

// float is a REAL by its bits, so that comparisons tell -0.0 from 0.0 and
// see a NaN equal to itself.
type float uint64

// norm returns a copy of b that reflect.DeepEqual compares by wire meaning:
// floats by their bits, and empty slices as nil (decoding makes nil).
func norm(b *codec.Batch) *codec.Batch {
	n := *b
	n.Sites = nilIfEmpty(b.Sites)
	n.Tables = nil
	for _, t := range b.Tables {
		n.Tables = append(n.Tables, codec.Table{Name: t.Name, Columns: nilIfEmpty(t.Columns)})
	}
	n.Changes = nil
	for _, c := range b.Changes {
		c.Key = normValues(c.Key)
		c.Columns = nilIfEmpty(c.Columns)
		c.Values = normValues(c.Values)
		c.Clocks = nilIfEmpty(c.Clocks)
		n.Changes = append(n.Changes, c)
	}
	return &n
}

func normValues(vs []any) []any {
	var out []any
	for _, v := range vs {
		if f, ok := v.(float64); ok {
			v = float(math.Float64bits(f))
		}
		out = append(out, v)
	}
	return out
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// sameBatch reports whether a and b hold the same batch, value for value.
func sameBatch(a, b *codec.Batch) bool {
	return reflect.DeepEqual(norm(a), norm(b))
}
