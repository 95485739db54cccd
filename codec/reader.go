package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errEnd is what running out of body looks like to the parser.
var errEnd = errors.New("unexpected end of body")

// reader reads a run of bytes. Every read checks the bytes left, so that no
// declared length or count is trusted.
type reader struct {
	buf []byte
	off int
}

func (r *reader) left() int { return len(r.buf) - r.off }

func (r *reader) byte() (byte, error) {
	if r.left() < 1 {
		return 0, errEnd
	}
	r.off++
	return r.buf[r.off-1], nil
}

// next returns the next n bytes, which alias the body.
func (r *reader) next(n int) ([]byte, error) {
	if n < 0 || n > r.left() {
		return nil, errEnd
	}
	r.off += n
	return r.buf[r.off-n : r.off], nil
}

func (r *reader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.buf[r.off:])
	return v, r.advance(n)
}

func (r *reader) varint() (int64, error) {
	v, n := binary.Varint(r.buf[r.off:])
	return v, r.advance(n)
}

// advance moves past a varint of n bytes as binary.Uvarint reports it:
// 0 for too few bytes, negative for more than 64 bits.
func (r *reader) advance(n int) error {
	switch {
	case n == 0:
		return errEnd
	case n < 0:
		return errors.New("varint overflows 64 bits")
	}
	r.off += n
	return nil
}

// count reads a count of items that take at least size bytes each, and
// refuses it if they cannot fit in the bytes left. This is what keeps a
// forged count from making a huge slice.
func (r *reader) count(what string, size int) (int, error) {
	n, err := r.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(r.left()/size) {
		return 0, fmt.Errorf("%d %s cannot fit in the %d bytes left", n, what, r.left())
	}
	return int(n), nil
}

// index reads an index into a list of n items.
func (r *reader) index(what string, n int) (int, error) {
	i, err := r.uvarint()
	if err != nil {
		return 0, err
	}
	if i >= uint64(n) {
		return 0, fmt.Errorf("%s index %d of %d", what, i, n)
	}
	return int(i), nil
}

// text reads a length-prefixed string, as names are stored.
func (r *reader) text() (string, error) {
	n, err := r.count("text bytes", 1)
	if err != nil {
		return "", err
	}
	b, err := r.next(n)
	return string(b), err
}
