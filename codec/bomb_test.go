package codec_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/deltasync/deltasync/codec"
)

// bombSize is what a bomb decompresses to: 64 times the decoder's limit,
// yet a few kilobytes on the wire.
const (
	bombLimit = 1 << 20
	bombSize  = 64 << 20
)

// TestDecodeZstdBomb sends bodies that decompress to far more than their
// header declares. Decoding must fail with ErrTooLarge having allocated
// about the declared size, never the bomb's.
func TestDecodeZstdBomb(t *testing.T) {
	cases := []struct {
		name     string
		stored   []byte
		declared uint32
	}{
		// EncodeAll writes the content size in the zstd frame header.
		{"content size in zstd header", bombEncodeAll(t, zstd.WithWindowSize(64<<10)), bombLimit},
		{"content size, not single segment", bombEncodeAll(t, zstd.WithWindowSize(64<<10), zstd.WithSingleSegment(false)), bombLimit},
		// By default the window is as large as the content: too large.
		{"large window", bombEncodeAll(t), bombLimit},
		// A streamed zstd frame has no content size: only decoding finds
		// out, and with a small window decoding starts.
		{"streamed", bombStreamed(t), bombLimit},
		{"streamed, small declared body", bombStreamed(t), 1000},
	}
	d := MustDecoder(t, codec.Limits{MaxBody: bombLimit})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			frame := frameOf(tc.stored, tc.declared, 1, true)
			t.Logf("bomb frame: %d bytes, decompresses to %d", len(frame), bombSize)
			d.Decode(frame) // warm the zstd decoder's own buffers up
			alloc := allocated(func() {
				_, err := d.Decode(frame)
				t.Logf("decode: %v", err)
				if !errors.Is(err, codec.ErrTooLarge) {
					t.Errorf("got %v, want %v", err, codec.ErrTooLarge)
				}
			})
			t.Logf("allocated %d bytes", alloc)
			if max := uint64(4 * bombLimit); alloc > max {
				t.Errorf("decode allocated %d bytes, want at most %d", alloc, max)
			}
		})
	}
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func bombEncodeAll(t *testing.T, opts ...zstd.EOption) []byte {
	zw, err := zstd.NewWriter(nil, append(opts, zstd.WithEncoderLevel(zstd.SpeedFastest))...)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(make([]byte, bombSize), nil)
}

func bombStreamed(t *testing.T) []byte {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(zw, zeros{}, bombSize); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
