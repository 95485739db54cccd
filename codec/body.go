package codec

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The body's grammar is in doc.go. bodyWriter and bodyReader mirror each
// other, method for method, and check the same rules.

// Smallest encodings, in bytes, that bound counts read from the body.
const (
	minTable  = 2 // name length, column count
	minColumn = 2 // gap and own bit, value tag
	siteSize  = len(SiteID{})
)

type bodyWriter struct {
	b       *Batch
	changes []byte // the changes, without the bytes of TEXT and BLOB values
	heap    []byte // the bytes of TEXT and BLOB values, in order
	hlc     uint64 // the previous clock's HLC, which the next is a delta from
}

// scratch is the buffers of one encode, kept for the next.
type scratch struct{ body, changes, heap []byte }

// appendBody writes the body of b into s.body. Changes and heap are built
// apart and joined at the end, since the heap comes first.
func appendBody(s *scratch, b *Batch) error {
	w := bodyWriter{b: b, changes: s.changes[:0], heap: s.heap[:0]}
	defer func() { s.changes, s.heap = w.changes, w.heap }()
	for i := range b.Changes {
		if err := w.change(&b.Changes[i]); err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
	}
	s.body = appendTables(appendSites(s.body[:0], b.Sites), b.Tables)
	s.body = binary.AppendUvarint(s.body, uint64(len(w.heap)))
	s.body = append(append(s.body, w.heap...), w.changes...)
	return nil
}

func appendSites(w []byte, sites []SiteID) []byte {
	w = binary.AppendUvarint(w, uint64(len(sites)))
	for _, s := range sites {
		w = append(w, s[:]...)
	}
	return w
}

func appendTables(w []byte, tables []Table) []byte {
	w = binary.AppendUvarint(w, uint64(len(tables)))
	for _, t := range tables {
		w = appendText(w, t.Name)
		w = binary.AppendUvarint(w, uint64(len(t.Columns)))
		for _, c := range t.Columns {
			w = appendText(w, c)
		}
	}
	return w
}

func (w *bodyWriter) uvarint(v uint64) { w.changes = binary.AppendUvarint(w.changes, v) }

func (w *bodyWriter) value(v any) (err error) {
	w.changes, w.heap, err = appendValue(w.changes, w.heap, v)
	return err
}

func (w *bodyWriter) change(c *Change) error {
	if err := checkChange(w.b, c); err != nil {
		return err
	}
	w.uvarint(uint64(c.Table))
	w.changes = append(w.changes, byte(c.Op), byte(len(c.Key)))
	for j, v := range c.Key {
		if err := w.value(v); err != nil {
			return fmt.Errorf("key %d: %w", j, err)
		}
	}
	w.clock(c.Clock)
	w.uvarint(uint64(len(c.Columns)))
	prev := -1
	for j, col := range c.Columns {
		if err := w.column(c, j, col-prev-1); err != nil {
			return fmt.Errorf("column %d: %w", j, err)
		}
		prev = col
	}
	return nil
}

// column writes the j-th column of c, whose index is gap past the previous.
func (w *bodyWriter) column(c *Change, j, gap int) error {
	own := c.Clocks[j] != c.Clock
	w.uvarint(uint64(gap)<<1 | b2u(own))
	if err := w.value(c.Values[j]); err != nil {
		return err
	}
	if own {
		w.clock(c.Clocks[j])
	}
	return nil
}

func (w *bodyWriter) clock(c Clock) {
	w.uvarint(uint64(c.Site))
	// Wrapping subtraction makes the delta a bijection on uint64.
	w.changes = binary.AppendVarint(w.changes, int64(c.HLC-w.hlc))
	w.hlc = c.HLC
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// checkChange checks what the encoding cannot express or the receiver must
// not be given. Clock sites are checked here too, so that a bad one is
// reported before anything is written.
func checkChange(b *Batch, c *Change) error {
	if c.Table < 0 || c.Table >= len(b.Tables) {
		return fmt.Errorf("table index %d of %d", c.Table, len(b.Tables))
	}
	if !c.Op.valid() {
		return fmt.Errorf("unknown op %d", uint8(c.Op))
	}
	if err := checkKeyCount(len(c.Key)); err != nil {
		return err
	}
	if len(c.Values) != len(c.Columns) || len(c.Clocks) != len(c.Columns) {
		return fmt.Errorf("%d columns, %d values, %d clocks", len(c.Columns), len(c.Values), len(c.Clocks))
	}
	if c.Op == OpDelete && len(c.Columns) > 0 {
		return fmt.Errorf("delete with %d columns", len(c.Columns))
	}
	if err := checkSite(c.Clock.Site, len(b.Sites)); err != nil {
		return fmt.Errorf("row clock: %w", err)
	}
	return checkColumns(c, len(b.Tables[c.Table].Columns), len(b.Sites))
}

func checkColumns(c *Change, n, sites int) error {
	prev := -1
	for j, col := range c.Columns {
		switch {
		case col < 0 || col >= n:
			return fmt.Errorf("column %d: column index %d of %d", j, col, n)
		case col <= prev:
			return fmt.Errorf("column %d: column index %d after %d, want increasing", j, col, prev)
		}
		if err := checkSite(c.Clocks[j].Site, sites); err != nil {
			return fmt.Errorf("column %d: %w", j, err)
		}
		prev = col
	}
	return nil
}

func checkKeyCount(n int) error {
	if n < 1 || n > MaxKey {
		return fmt.Errorf("key of %d values, want 1 to %d", n, MaxKey)
	}
	return nil
}

func checkSite(i, n int) error {
	if i < 0 || i >= n {
		return fmt.Errorf("site index %d of %d", i, n)
	}
	return nil
}

type bodyReader struct {
	reader        // the body, then the changes once the heap is cut out
	heap   reader // the bytes of TEXT and BLOB values
	b      *Batch
	hlc    uint64
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
	r.b.Sites = make([]SiteID, n)
	for i := range r.b.Sites {
		s, _ := r.next(siteSize) // count checked that they fit
		r.b.Sites[i] = SiteID(s)
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
	return nil
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
	if c.Op = Op(op); !c.Op.valid() {
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
	r.hlc += uint64(d)
	return Clock{HLC: r.hlc, Site: site}, err
}

func (r *bodyReader) columns(c *Change) error {
	n, err := r.count("columns", minColumn)
	if err != nil || n == 0 {
		return err
	}
	if c.Op == OpDelete {
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
