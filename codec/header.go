package codec

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/deltasync/deltasync/change"
)

// Magic opens every frame.
const Magic = "DLTS"

// Version is the format version this package writes and reads.
const Version = 3

// HeaderSize is the length of the fixed header that opens every frame.
const HeaderSize = 100

// FlagZstd marks a zstd-compressed body. No other flag is defined.
const FlagZstd = 1 << 0

// Offsets of the header fields; doc.go has the table.
const (
	offVersion     = 4
	offFlags       = 5
	offReserved    = 6
	offFingerprint = 8
	offOrigin      = 40
	offFirst       = 56
	offLast        = 64
	offHead        = 72
	offChanges     = 80
	offBodyLen     = 84
	offStoredLen   = 88
	offBodyCRC     = 92
	offHeaderCRC   = 96
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// minChange is the fewest body bytes a change takes: table index, op, key
// count, a one-byte key (NULL), site index, HLC delta, Seen delta, column
// count. It bounds the change count by the body length before anything is
// allocated.
const minChange = 8

// minBody is the fewest body bytes: the site, table and heap counts.
const minBody = 3

// Header is the fixed header of a frame.
type Header struct {
	Version     uint8
	Flags       uint8
	Fingerprint [32]byte
	Origin      change.SiteID
	First, Last change.Version
	Head        change.Version // the sender's last version when it built the batch, 0 if not given
	Changes     uint32         // change count
	BodyLen     uint32         // uncompressed body length
	StoredLen   uint32         // bytes of body that follow the header
	BodyCRC     uint32
}

// FrameLen is the length of the whole frame the header opens.
func (h Header) FrameLen() int64 { return HeaderSize + int64(h.StoredLen) }

// Compressed reports whether the body is zstd-compressed.
func (h Header) Compressed() bool { return h.Flags&FlagZstd != 0 }

// putHeader writes h in wire form, with its checksum, to b[:HeaderSize].
func putHeader(b []byte, h *Header) {
	b = b[:HeaderSize]
	clear(b)
	copy(b, Magic)
	b[offVersion] = h.Version
	b[offFlags] = h.Flags
	copy(b[offFingerprint:], h.Fingerprint[:])
	copy(b[offOrigin:], h.Origin[:])
	binary.BigEndian.PutUint64(b[offFirst:], uint64(h.First))
	binary.BigEndian.PutUint64(b[offLast:], uint64(h.Last))
	binary.BigEndian.PutUint64(b[offHead:], uint64(h.Head))
	binary.BigEndian.PutUint32(b[offChanges:], h.Changes)
	binary.BigEndian.PutUint32(b[offBodyLen:], h.BodyLen)
	binary.BigEndian.PutUint32(b[offStoredLen:], h.StoredLen)
	binary.BigEndian.PutUint32(b[offBodyCRC:], h.BodyCRC)
	binary.BigEndian.PutUint32(b[offHeaderCRC:], crc32.Checksum(b[:offHeaderCRC], castagnoli))
}

// parseHeader reads the fixed header at the start of frame and checks its
// checksum and fixed fields; check applies the rules between fields. Magic
// and version come before the checksum: a frame of a later version may have
// another header layout.
func parseHeader(frame []byte) (Header, error) {
	var h Header
	if n := min(len(frame), len(Magic)); string(frame[:n]) != Magic[:n] {
		return h, fmt.Errorf("%w: got %q, want %q", ErrBadMagic, frame[:n], Magic)
	}
	if len(frame) <= offVersion {
		return h, fmt.Errorf("%w: header is %d bytes, want %d", ErrTruncated, len(frame), HeaderSize)
	}
	if v := frame[offVersion]; v != Version {
		return h, fmt.Errorf("%w: format version %d, this codec reads %d", ErrVersion, v, Version)
	}
	if len(frame) < HeaderSize {
		return h, fmt.Errorf("%w: header is %d bytes, want %d", ErrTruncated, len(frame), HeaderSize)
	}
	got := crc32.Checksum(frame[:offHeaderCRC], castagnoli)
	if want := binary.BigEndian.Uint32(frame[offHeaderCRC:]); got != want {
		return h, fmt.Errorf("%w: header crc %08x, want %08x", ErrChecksum, got, want)
	}
	// Reserved bytes are for a later version to give a meaning to, so a
	// nonzero value means a writer newer than this reader.
	if r := binary.BigEndian.Uint16(frame[offReserved:]); r != 0 {
		return h, fmt.Errorf("%w: reserved bytes are 0x%04x, want 0", ErrVersion, r)
	}
	return readHeader(frame), nil
}

// readHeader decodes the fields of a header whose checksum has passed.
func readHeader(b []byte) Header {
	h := Header{
		Version:   b[offVersion],
		Flags:     b[offFlags],
		First:     change.Version(binary.BigEndian.Uint64(b[offFirst:])),
		Last:      change.Version(binary.BigEndian.Uint64(b[offLast:])),
		Head:      change.Version(binary.BigEndian.Uint64(b[offHead:])),
		Changes:   binary.BigEndian.Uint32(b[offChanges:]),
		BodyLen:   binary.BigEndian.Uint32(b[offBodyLen:]),
		StoredLen: binary.BigEndian.Uint32(b[offStoredLen:]),
		BodyCRC:   binary.BigEndian.Uint32(b[offBodyCRC:]),
	}
	copy(h.Fingerprint[:], b[offFingerprint:])
	copy(h.Origin[:], b[offOrigin:])
	return h
}

// check applies the rules between header fields.
func (h Header) check() error {
	if f := h.Flags &^ FlagZstd; f != 0 {
		return fmt.Errorf("%w: unknown flags 0x%02x", ErrVersion, f)
	}
	// A version is an int64, as SQLite stores it: one past that reads as
	// negative here.
	if h.First < 0 || h.Last < 0 || h.Head < 0 {
		return fmt.Errorf("%w: a version past %d", ErrCorrupt, int64(math.MaxInt64))
	}
	if h.Last < h.First {
		return fmt.Errorf("%w: last version %d before first %d", ErrCorrupt, h.Last, h.First)
	}
	if h.Head != 0 && h.Head < h.Last {
		return fmt.Errorf("%w: head version %d before last %d", ErrCorrupt, h.Head, h.Last)
	}
	if !h.Compressed() && h.StoredLen != h.BodyLen {
		return fmt.Errorf("%w: uncompressed body stored in %d bytes, header says %d", ErrCorrupt, h.StoredLen, h.BodyLen)
	}
	if h.BodyLen < minBody {
		return fmt.Errorf("%w: body of %d bytes, the least is %d", ErrCorrupt, h.BodyLen, minBody)
	}
	if (h.BodyLen-minBody)/minChange < h.Changes {
		return fmt.Errorf("%w: %d changes cannot fit in a body of %d bytes", ErrCorrupt, h.Changes, h.BodyLen)
	}
	return nil
}
