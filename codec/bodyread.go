package codec

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/deltasync/deltasync/change"
)

// Smallest encodings, in bytes, that bound counts read from the body.
const (
	minTable  = 2 // name length, column count
	minColumn = 2 // gap and own bit, value tag
	siteSize  = len(change.SiteID{})
)

type bodyReader struct {
	reader        // the body, then the changes once the heap is cut out
	heap   reader // the bytes of TEXT and BLOB values
	b      *Batch
	hlc    change.HLC     // the previous clock's HLC, which the next is a delta from
	seen   change.Version // the previous clock's Seen, likewise
}

// decodeBody parses body into b, which has its header fields set already.
// Header.check has bounded changes by the body length.
func decodeBody(b *Batch, body []byte, changes int) error {
	r := bodyReader{reader: reader{buf: body}, b: b}
	if err := r.sites(); err != nil {
		return fmt.Errorf("%w: sites: %w", ErrCorrupt, err)
	}
	if err := r.tables(); err != nil {
		return fmt.Errorf("%w: tables: %w", ErrCorrupt, err)
	}
	if err := r.cutHeap(); err != nil {
		return fmt.Errorf("%w: heap: %w", ErrCorrupt, err)
	}
	if changes > 0 {
		b.Changes = make([]Change, changes)
	}
	for i := range b.Changes {
		if err := r.change(&b.Changes[i]); err != nil {
			return fmt.Errorf("%w: change %d: %w", ErrCorrupt, i, err)
		}
	}
	if r.left() > 0 {
		return fmt.Errorf("%w: %d bytes after the last change", ErrCorrupt, r.left())
	}
	if r.heap.left() > 0 {
		return fmt.Errorf("%w: %d heap bytes after the last value", ErrCorrupt, r.heap.left())
	}
	return nil
}

// cutHeap moves the heap from the body to its own reader.
func (r *bodyReader) cutHeap() error {
	n, err := r.count("heap bytes", 1)
	if err != nil {
		return err
	}
	h, _ := r.next(n) // count checked that they fit
	r.heap = reader{buf: h}
	return nil
}

func (r *bodyReader) sites() error {
	n, err := r.count("sites", siteSize)
	if err != nil || n == 0 {
		return err
	}
	r.b.Sites = make([]change.SiteID, n)
	for i := range r.b.Sites {
		s, _ := r.next(siteSize) // count checked that they fit
		r.b.Sites[i] = change.SiteID(s)
	}
	return nil
}

func (r *bodyReader) tables() error {
	n, err := r.count("tables", minTable)
	if err != nil || n == 0 {
		return err
	}
	r.b.Tables = make([]Table, n)
	for i := range r.b.Tables {
		if err := r.table(&r.b.Tables[i]); err != nil {
			return fmt.Errorf("table %d: %w", i, err)
		}
	}
	return checkNames(r.b.Tables)
}

func (r *bodyReader) table(t *Table) error {
	var err error
	if t.Name, err = r.text(); err != nil {
		return err
	}
	n, err := r.count("columns", 1)
	if err != nil || n == 0 {
		return err
	}
	t.Columns = make([]string, n)
	for i := range t.Columns {
		if t.Columns[i], err = r.text(); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return nil
}

func (r *bodyReader) change(c *Change) error {
	var err error
	if c.Table, err = r.index("table", len(r.b.Tables)); err != nil {
		return err
	}
	if err = r.op(c); err != nil {
		return err
	}
	if err = r.key(c); err != nil {
		return err
	}
	if c.Clock, err = r.clock(); err != nil {
		return fmt.Errorf("row clock: %w", err)
	}
	return r.columns(c)
}

func (r *bodyReader) op(c *Change) error {
	op, err := r.byte()
	if err != nil {
		return err
	}
	if c.Op = change.Op(op); !validOp(c.Op) {
		return fmt.Errorf("unknown op %d", op)
	}
	return nil
}

func (r *bodyReader) key(c *Change) error {
	n, err := r.byte()
	if err != nil {
		return err
	}
	if err := checkKeyCount(int(n)); err != nil {
		return err
	}
	c.Key = make([]any, n)
	for j := range c.Key {
		if c.Key[j], err = r.value(); err != nil {
			return fmt.Errorf("key %d: %w", j, err)
		}
	}
	return nil
}

func (r *bodyReader) clock() (Clock, error) {
	site, err := r.index("site", len(r.b.Sites))
	if err != nil {
		return Clock{}, err
	}
	d, err := r.varint()
	if err != nil {
		return Clock{}, err
	}
	r.hlc += change.HLC(d)
	if d, err = r.varint(); err != nil {
		return Clock{}, fmt.Errorf("seen: %w", err)
	}
	if r.seen += change.Version(d); r.seen < 0 {
		return Clock{}, fmt.Errorf("seen: version %d is negative", r.seen)
	}
	return Clock{HLC: r.hlc, Site: site, Seen: r.seen}, nil
}

func (r *bodyReader) columns(c *Change) error {
	n, err := r.count("columns", minColumn)
	if err != nil || n == 0 {
		return err
	}
	if c.Op == change.Delete {
		return fmt.Errorf("delete with %d columns", n)
	}
	// Indexes increase, so more columns than the table has cannot be valid.
	if have := len(r.b.Tables[c.Table].Columns); n > have {
		return fmt.Errorf("%d columns, table %d has %d", n, c.Table, have)
	}
	c.Columns, c.Values, c.Clocks = make([]int, n), make([]any, n), make([]Clock, n)
	prev := -1
	for j := range c.Columns {
		if err := r.column(c, j, prev); err != nil {
			return fmt.Errorf("column %d: %w", j, err)
		}
		prev = c.Columns[j]
	}
	return nil
}

// column reads the j-th column of c, which follows column index prev.
func (r *bodyReader) column(c *Change, j, prev int) error {
	v, err := r.uvarint()
	if err != nil {
		return err
	}
	n := len(r.b.Tables[c.Table].Columns)
	// Compare before converting, so that a huge gap cannot overflow an int.
	if gap := v >> 1; gap >= uint64(n-prev-1) {
		return fmt.Errorf("column index %d of %d", uint64(prev+1)+gap, n)
	}
	c.Columns[j] = prev + 1 + int(v>>1)
	if c.Values[j], err = r.value(); err != nil {
		return err
	}
	if v&1 == 0 {
		c.Clocks[j] = c.Clock
		return nil
	}
	c.Clocks[j], err = r.clock()
	return err
}

// value reads a value; the bytes of a TEXT or BLOB come from the heap.
func (r *bodyReader) value() (any, error) {
	tag, err := r.byte()
	if err != nil {
		return nil, err
	}
	switch tag {
	case tagNull:
		return nil, nil
	case tagInteger:
		v, err := r.varint()
		return v, err
	case tagReal:
		b, err := r.next(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	case tagText:
		b, err := r.heapBytes("text")
		return string(b), err
	case tagBlob:
		b, err := r.heapBytes("blob")
		// Copy, so that the batch never aliases the caller's frame; never
		// nil, so that an empty BLOB stays distinct from NULL.
		return append(make([]byte, 0, len(b)), b...), err
	}
	return nil, fmt.Errorf("unknown value tag %d", tag)
}

// heapBytes reads a length and takes that many bytes from the heap.
func (r *bodyReader) heapBytes(what string) ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(r.heap.left()) {
		return nil, fmt.Errorf("%s of %d bytes, %d heap bytes left", what, n, r.heap.left())
	}
	return r.heap.next(int(n))
}
