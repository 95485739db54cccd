package codec

import "errors"

// Sentinel errors that callers branch on with errors.Is. Every error that
// Encode, Decode and Header return wraps one of them, with detail.
var (
	// ErrBadMagic: the bytes are not a deltasync frame.
	ErrBadMagic = errors.New("codec: bad magic")
	// ErrVersion: the frame needs a newer codec: a format version, a flag
	// or a use of the reserved bytes that this one does not know.
	ErrVersion = errors.New("codec: unsupported format")
	// ErrChecksum: a CRC does not match; the frame was damaged in transit.
	ErrChecksum = errors.New("codec: checksum mismatch")
	// ErrTruncated: the frame ends before its header or body does.
	ErrTruncated = errors.New("codec: truncated frame")
	// ErrTooLarge: the frame exceeds a limit of the Decoder, or the body
	// decompresses to more than its header declares.
	ErrTooLarge = errors.New("codec: frame too large")
	// ErrCorrupt: the checksums match but the content does not parse or
	// breaks a rule of the format.
	ErrCorrupt = errors.New("codec: corrupt batch")
	// ErrInvalid: Encode was given a Batch that breaks a rule of the format
	// (an index out of range, a value of an unsupported type, ...).
	ErrInvalid = errors.New("codec: invalid batch")
)
