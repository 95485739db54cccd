package codec

import (
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/klauspost/compress/zstd"
)

// Limits bound what a Decoder accepts, and so the memory a decode takes.
// A zero field takes its value from DefaultLimits.
type Limits struct {
	MaxFrame   int // bytes of a whole frame, header included
	MaxBody    int // bytes of the uncompressed body
	MaxChanges int // changes in one batch
}

// DefaultLimits are generous for one push or pull and keep the memory of a
// decode under about 1.8 GiB (see the package doc). A replicator pages its
// changelog into batches well under them. MaxFrame equals MaxBody so that
// one incompressible value of up to about 60 MiB, which zstd cannot shrink
// and the encoder then stores as is, still fits one frame.
var DefaultLimits = Limits{
	MaxFrame:   64 << 20,
	MaxBody:    64 << 20,
	MaxChanges: 1_000_000,
}

// withDefaults fills in zero fields and refuses negative ones.
func (l Limits) withDefaults() (Limits, error) {
	if l.MaxFrame < 0 || l.MaxBody < 0 || l.MaxChanges < 0 {
		return l, fmt.Errorf("codec: negative limit in %+v", l)
	}
	if l.MaxFrame == 0 {
		l.MaxFrame = DefaultLimits.MaxFrame
	}
	if l.MaxBody == 0 {
		l.MaxBody = DefaultLimits.MaxBody
	}
	if l.MaxChanges == 0 {
		l.MaxChanges = DefaultLimits.MaxChanges
	}
	return l, nil
}

func (l Limits) check(h Header) error {
	switch {
	case h.FrameLen() > int64(l.MaxFrame):
		return fmt.Errorf("%w: frame of %d bytes, limit %d", ErrTooLarge, h.FrameLen(), l.MaxFrame)
	case int64(h.BodyLen) > int64(l.MaxBody):
		return fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, h.BodyLen, l.MaxBody)
	case int64(h.Changes) > int64(l.MaxChanges):
		return fmt.Errorf("%w: %d changes, limit %d", ErrTooLarge, h.Changes, l.MaxChanges)
	}
	return nil
}

// Decoder decodes frames from untrusted bytes, within its Limits. It holds
// one zstd decoder, reused by every call; it is safe for concurrent use, but
// calls decompress one at a time.
type Decoder struct {
	limits Limits
	zr     *zstd.Decoder
}

// NewDecoder returns a Decoder that enforces l. Close releases it.
func NewDecoder(l Limits) (*Decoder, error) {
	l, err := l.withDefaults()
	if err != nil {
		return nil, err
	}
	zr, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		// DecodeAll writes into the buffer Decode gives it, sized to the
		// declared body, and stops there instead of growing it: a body
		// that decompresses to more fails at that size, not later.
		zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderMaxMemory(uint64(l.MaxBody)),
		zstd.WithDecoderMaxWindow(uint64(max(l.MaxBody, zstd.MinWindowSize))),
	)
	if err != nil {
		return nil, fmt.Errorf("codec: new zstd decoder: %w", err)
	}
	return &Decoder{limits: l, zr: zr}, nil
}

// Close releases the zstd decoder. The Decoder must not be used after.
func (d *Decoder) Close() { d.zr.Close() }

// Header parses and checks the fixed header at the start of frame, which
// need hold no more than HeaderSize bytes: a hub can refuse a frame by its
// fingerprint, origin or size before it reads or decompresses the body.
// To read frames from a stream, read HeaderSize bytes, call Header, then
// read the rest of FrameLen. If the error wraps ErrTooLarge or ErrCorrupt,
// the returned Header holds the fields as read, for a log line.
func (d *Decoder) Header(frame []byte) (Header, error) {
	h, err := parseHeader(frame)
	if err != nil {
		return Header{}, err
	}
	if err := d.limits.check(h); err != nil {
		return h, err
	}
	return h, h.check()
}

// Decode decodes one whole frame, with nothing after it. The Batch shares
// no memory with frame.
func (d *Decoder) Decode(frame []byte) (*Batch, error) {
	h, err := d.Header(frame)
	if err != nil {
		return nil, err
	}
	stored, err := storedBody(frame, h)
	if err != nil {
		return nil, err
	}
	body, err := d.body(stored, h)
	if err != nil {
		return nil, err
	}
	b := &Batch{Fingerprint: h.Fingerprint, Origin: h.Origin, First: h.First, Last: h.Last, Head: h.Head}
	if err := decodeBody(b, body, int(h.Changes)); err != nil {
		return nil, err
	}
	return b, nil
}

// storedBody returns the body bytes that follow the header, checked against
// the declared length and the body CRC.
func storedBody(frame []byte, h Header) ([]byte, error) {
	have := int64(len(frame)) - HeaderSize
	switch {
	case have < int64(h.StoredLen):
		return nil, fmt.Errorf("%w: body is %d bytes, header says %d", ErrTruncated, have, h.StoredLen)
	case have > int64(h.StoredLen):
		return nil, fmt.Errorf("%w: %d bytes after the %d-byte body the header declares", ErrCorrupt, have-int64(h.StoredLen), h.StoredLen)
	}
	stored := frame[HeaderSize:]
	if got := crc32.Checksum(stored, castagnoli); got != h.BodyCRC {
		return nil, fmt.Errorf("%w: body crc %08x, want %08x", ErrChecksum, got, h.BodyCRC)
	}
	return stored, nil
}

// body returns the uncompressed body: stored itself, or its decompression
// into a buffer of exactly the declared length.
func (d *Decoder) body(stored []byte, h Header) ([]byte, error) {
	if !h.Compressed() {
		return stored, nil
	}
	body, err := d.zr.DecodeAll(stored, make([]byte, 0, h.BodyLen))
	switch {
	case errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return nil, fmt.Errorf("%w: body decompresses to more than the %d bytes its header declares", ErrTooLarge, h.BodyLen)
	case errors.Is(err, zstd.ErrWindowSizeExceeded):
		return nil, fmt.Errorf("%w: zstd window over the %d-byte body limit", ErrTooLarge, d.limits.MaxBody)
	case err != nil:
		return nil, fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
	case len(body) != int(h.BodyLen):
		return nil, fmt.Errorf("%w: body decompresses to %d bytes, header says %d", ErrCorrupt, len(body), h.BodyLen)
	}
	return body, nil
}
