package codec

import (
	"encoding/binary"
	"fmt"

	"github.com/deltasync/deltasync/change"
)

// The body's grammar is in doc.go. bodyWriter, here, and bodyReader, in
// bodyread.go, mirror each other and check the same rules.

type bodyWriter struct {
	b       *Batch
	changes []byte         // the changes, without the bytes of TEXT and BLOB values
	heap    []byte         // the bytes of TEXT and BLOB values, in order
	hlc     change.HLC     // the previous clock's HLC, which the next is a delta from
	seen    change.Version // the previous clock's Seen, likewise
}

// scratch is the buffers of one encode, kept for the next.
type scratch struct{ body, changes, heap []byte }

// appendBody writes the body of b into s.body. Changes and heap are built
// apart and joined at the end, since the heap comes first.
func appendBody(s *scratch, b *Batch) error {
	if err := checkNames(b.Tables); err != nil {
		return err
	}
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

// checkNames refuses a table named twice in a batch, or a column named
// twice in a table's list: a receiver resolves changes by name, so a
// repeated name would let one change write a column twice, or one batch
// bring a table in under two lists of columns.
func checkNames(tables []Table) error {
	seen := make(map[string]struct{}, len(tables))
	for i, t := range tables {
		if _, dup := seen[t.Name]; dup {
			return fmt.Errorf("table %d: table %q named twice", i, t.Name)
		}
		seen[t.Name] = struct{}{}
	}
	for i, t := range tables {
		clear(seen)
		for j, c := range t.Columns {
			if _, dup := seen[c]; dup {
				return fmt.Errorf("table %d: column %d: column %q of table %q named twice", i, j, c, t.Name)
			}
			seen[c] = struct{}{}
		}
	}
	return nil
}

func appendSites(w []byte, sites []change.SiteID) []byte {
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
	w.changes = binary.AppendVarint(w.changes, int64(c.Seen-w.seen))
	w.hlc, w.seen = c.HLC, c.Seen
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
	if !validOp(c.Op) {
		return fmt.Errorf("unknown op %d", uint8(c.Op))
	}
	if err := checkKeyCount(len(c.Key)); err != nil {
		return err
	}
	if len(c.Values) != len(c.Columns) || len(c.Clocks) != len(c.Columns) {
		return fmt.Errorf("%d columns, %d values, %d clocks", len(c.Columns), len(c.Values), len(c.Clocks))
	}
	if c.Op == change.Delete && len(c.Columns) > 0 {
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
