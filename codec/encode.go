package codec

import (
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Level is the zstd level the Encoder uses. See TestWireSize for the
// measurement behind the choice.
const Level = zstd.SpeedDefault

// Encoder encodes batches into frames. It holds one zstd encoder, reused by
// every call; it is safe for concurrent use, but calls compress one at a
// time.
type Encoder struct {
	zw *zstd.Encoder
	// idle is the buffers of the last encode, kept for the next. A
	// sync.Pool lost them to the garbage collector between two batches
	// of a sync, and every encode grew a body's worth of buffers again.
	mu   sync.Mutex
	idle *scratch
}

// bigBody is the body size from which frame makes room for the whole body.
const bigBody = 4 << 20

// maxIdle is the largest scratch an Encoder keeps between encodes, in bytes.
const maxIdle = 32 << 20

// NewEncoder returns an Encoder. Close releases it.
func NewEncoder() (*Encoder, error) {
	zw, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(Level),
		zstd.WithEncoderConcurrency(1),
		// The frame's body CRC covers the compressed bytes already.
		zstd.WithEncoderCRC(false),
	)
	if err != nil {
		return nil, fmt.Errorf("codec: new zstd encoder: %w", err)
	}
	return &Encoder{zw: zw}, nil
}

// Close releases the zstd encoder. The Encoder must not be used after.
func (e *Encoder) Close() { e.zw.Close() }

// Encode appends the frame of b to dst. It checks b first and returns an
// error wrapping ErrInvalid, with dst unchanged, rather than write a frame
// that a Decoder would refuse as malformed. Limits are the receiver's: a
// caller keeps its batches under the receiver's, DefaultLimits unless agreed
// otherwise.
func (e *Encoder) Encode(dst []byte, b *Batch) ([]byte, error) {
	if b.Last < b.First {
		return dst, fmt.Errorf("%w: last version %d before first %d", ErrInvalid, b.Last, b.First)
	}
	if b.Head != 0 && b.Head < b.Last {
		return dst, fmt.Errorf("%w: head version %d before last %d", ErrInvalid, b.Head, b.Last)
	}
	s := e.getScratch()
	defer e.putScratch(s)
	if err := appendBody(s, b); err != nil {
		return dst, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	body := s.body
	if uint64(len(body)) > math.MaxUint32 || uint64(len(b.Changes)) > math.MaxUint32 {
		return dst, fmt.Errorf("%w: body of %d bytes, %d changes, over the format's 4 GiB", ErrTooLarge, len(body), len(b.Changes))
	}
	return e.frame(dst, b, body), nil
}

func (e *Encoder) getScratch() *scratch {
	e.mu.Lock()
	s := e.idle
	e.idle = nil
	e.mu.Unlock()
	if s == nil {
		s = new(scratch)
	}
	return s
}

func (e *Encoder) putScratch(s *scratch) {
	if cap(s.body)+cap(s.changes)+cap(s.heap) > maxIdle {
		return
	}
	e.mu.Lock()
	e.idle = s
	e.mu.Unlock()
}

// frame appends the header and the stored body. It compresses in place
// after room for the header and falls back to the plain body when zstd does
// not make it smaller, as for a tiny batch.
func (e *Encoder) frame(dst []byte, b *Batch, body []byte) []byte {
	start := len(dst)
	// Room for the body compressed about 2x, so that EncodeAll does not
	// grow the frame by copying it over and over (it compresses 2.3-3.8x);
	// for a body of large values, which may not compress at all, room for
	// all of it: growing a 48 MiB frame a quarter at a time allocated 3.6
	// times its size.
	room := len(body) / 2
	if len(body) > bigBody {
		room = len(body) + len(body)>>7 + 1024 // more than zstd adds to incompressible bytes
	}
	dst = slices.Grow(dst, HeaderSize+room)
	dst = append(dst, make([]byte, HeaderSize)...)
	dst = e.zw.EncodeAll(body, dst)
	flags := uint8(FlagZstd)
	if len(dst)-start-HeaderSize >= len(body) {
		dst = append(dst[:start+HeaderSize], body...)
		flags = 0
	}
	stored := dst[start+HeaderSize:]
	putHeader(dst[start:], &Header{
		Version:     Version,
		Flags:       flags,
		Fingerprint: b.Fingerprint,
		Origin:      b.Origin,
		First:       b.First,
		Last:        b.Last,
		Head:        b.Head,
		Changes:     uint32(len(b.Changes)),
		BodyLen:     uint32(len(body)),
		StoredLen:   uint32(len(stored)),
		BodyCRC:     crc32.Checksum(stored, castagnoli),
	})
	return dst
}
