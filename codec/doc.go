// Package codec encodes a batch of row changes into the frame that travels
// between a node and the hub, and decodes such frames from untrusted bytes.
//
// A Batch is a contiguous range (First, Last] of one node's changelog: the
// sites and tables its changes refer to by index, then the changes. Values
// travel by SQLite storage class, not as JSON, so that they round-trip
// exactly: nil is NULL, int64 is INTEGER (the whole range), float64 is REAL
// (bit for bit: -0.0, ±Inf and NaN payloads included), string is TEXT (any
// bytes, NUL and invalid UTF-8 included) and []byte is BLOB (never nil after
// decoding; a nil []byte encodes as an empty BLOB, not as NULL). Other
// empty lists decode as nil slices.
//
// # Frame
//
// A frame is a fixed 100-byte header, big-endian, then the body.
//
//	offset  size  field
//	     0     4  magic "DLTS"
//	     4     1  format version, 3
//	     5     1  flags: bit 0 set means the body is zstd-compressed; other bits must be 0
//	     6     2  reserved, must be 0
//	     8    32  schema fingerprint of the sender
//	    40    16  origin: site id of the node that built the batch
//	    56     8  first version (exclusive)
//	    64     8  last version (inclusive), at least first
//	    72     8  head: the sender's last version when it built the batch,
//	              at least last, or 0 if not given
//	    80     4  change count
//	    84     4  body length, uncompressed
//	    88     4  stored body length: the bytes that follow the header
//	    92     4  CRC-32C (Castagnoli) of the stored body
//	    96     4  CRC-32C of header bytes 0..95
//	   100     n  body, zstd-compressed if flag bit 0 is set, otherwise as is
//
// The encoder stores the body uncompressed when zstd would not make it
// smaller, as for a tiny or empty batch; then both lengths are equal. The
// zstd frame carries no checksum of its own: the body CRC covers it.
//
// # Body
//
// Counts and lengths are unsigned varints (encoding/binary's Uvarint);
// integers and clock deltas are zigzag varints (Varint).
//
//	body     = sites tables heap change*       (exactly "change count" changes, nothing after)
//	sites    = uvarint n, n × 16-byte site id
//	tables   = uvarint n, n × table
//	table    = name, uvarint m, m × name (the column names)
//	name     = uvarint length, length bytes
//	heap     = uvarint n, n bytes: the bytes of every TEXT and BLOB value
//	           of the changes, in order, each taken by exactly one value
//	change   = uvarint table index, byte op, byte key count (1..4), key count × value,
//	           clock, uvarint column count, column count × column
//	clock    = uvarint site index, varint HLC delta, varint Seen delta
//	column   = uvarint (gap<<1 | own), value, clock if own is 1
//	value    = byte tag, then
//	           0 NULL     nothing
//	           1 INTEGER  varint
//	           2 REAL     8 bytes, IEEE 754 bits, big-endian
//	           3 TEXT     uvarint length; the bytes are the next ones of the heap
//	           4 BLOB     uvarint length; the bytes are the next ones of the heap
//
// A table's name appears once in a body, and a column's name once in its
// table's list: a receiver resolves changes by name, so a repeated name
// would let one change write a column twice, or bring one table in under
// two lists of columns. Decode refuses either with ErrCorrupt, Encode with
// ErrInvalid.
//
// Op is 1 insert, 2 update, 3 delete, 4 lost; a delete has no columns. A
// lost change is a notice the hub sends a device that one of the device's
// own writes lost a conflict on the hub. It has the shape of an update: the
// key, the losing write's row clock, and the losing values with their
// clocks, under the same rules as an update's columns; it has no columns
// when the write that lost was a delete. Its row clock's Seen, which a
// notice has no other use for, names the kind of conflict for the device's
// record: 1 update, 2 insert, 3 delete, 4 deleted (see package replicator).
//
// The row clock is the row's existence register. A column's own bit is 0
// when its clock (site, HLC and Seen) equals the row clock, which is the
// common case, so that it costs nothing. Each HLC is stored as the
// difference from the previous clock in the body (row and column clocks
// alike, in order; from 0 for the first), so that the many nearly equal
// clocks of a batch take a few bytes each. Column indexes within a change
// are strictly increasing and stored as the gap from the previous one minus
// one (the first as itself), so that they are mostly zero.
//
// A clock's Seen places the value in the hub's order of changes. In a
// device's push, for a write the device made itself, it is the hub version
// the device had pulled when it wrote, so that the hub can tell whether the
// writer had seen the value it replaced. In a batch a hub serves, it is the
// hub version at which the value arrived there, so that a device can tell
// the same about its own writes. It is 0 when not known. It is stored as the HLC is, as
// the difference from the previous clock's Seen in the body (wrapping, from
// 0 for the first), so that equal Seens, the common case, cost one zero
// byte a clock.
//
// Why a heap: text kept apart from the binary structure around it
// compresses better. On the mix of TestWireSize (1,000 changes to a
// 7-column table: 60% inserts, 30% updates of 1 or 2 columns, 10% deletes)
// it made the frame 5% smaller: 84 bytes per row, 0.77 of the same rows as
// zstd-compressed JSON of full rows, against 0.81 with the text inline. The
// zstd level is the default: "better" was 1.3% smaller at half the speed
// (44 against 85 MB/s of body encoded on the development machine).
//
// # Limits
//
// Decoding trusts nothing. Header checks the fixed header against the
// Decoder's Limits before the body is read, so that the hub can refuse a
// frame by its header alone:
//
//	limit       default     bounds
//	MaxFrame    64 MiB      header and stored body
//	MaxBody     64 MiB      uncompressed body
//	MaxChanges  1,000,000   changes (also at most one per 8 body bytes)
//
// MaxFrame is as large as MaxBody because a frame of incompressible values
// (a random BLOB) is stored uncompressed, as large as its body: with the
// defaults, a single 48 MiB random BLOB travels in one frame. A hub derives
// its request body limit from MaxFrame.
//
// Decode then checks the body CRC and decompresses into a buffer whose
// capacity is the declared length, with the zstd decoder capped at the same
// size: a zstd bomb stops there with ErrTooLarge. That buffer is allocated
// before decompression can prove the declared length wrong, so one frame
// can cost up to MaxBody bytes for a moment; a server bounds how many it
// decodes at once. The body parser bounds
// every count by the bytes left before it allocates. A decoded Batch takes
// at most about 28 bytes of memory per body byte (a NULL column costs two
// body bytes and 48 bytes of slices), so MaxBody bounds the memory of a
// decode: about 1.8 GiB at the default, which a replicator that pages its
// changelog into batches of a few MiB never comes near. Every malformed
// input returns an error that wraps one of the Err sentinels and says what
// was wrong.
//
// Encoder and Decoder are safe for concurrent use.
//
// codec knows no database: it imports no database package and no other
// deltasync package but change, whose words (Op, SiteID, Version, HLC) a
// batch is written in.
package codec
