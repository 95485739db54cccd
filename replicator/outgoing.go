package replicator

import (
	"slices"
	"sort"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/codec"
)

// builder turns changelog changes and their clocks into a codec batch.
type builder struct {
	s       *store
	tracked map[string]changelog.Tracked
	b       *codec.Batch
	mine    bool // a device's push: only its own writes, with what they had seen
	tables  map[string]int
	sites   map[changelog.SiteID]int
}

func newBuilder(s *store, tracked map[string]changelog.Tracked, fp [32]byte, origin changelog.SiteID, first, last int64) *builder {
	return &builder{
		s: s, tracked: tracked,
		b:      &codec.Batch{Fingerprint: fp, Origin: codec.SiteID(origin), First: uint64(first), Last: uint64(last)},
		tables: map[string]int{}, sites: map[changelog.SiteID]int{},
	}
}

// preload reads the clocks of every change of cs at once, but those the
// store knows already.
func (bd *builder) preload(cs []changelog.Change) error {
	keys := map[int64][][]byte{}
	for _, c := range cs {
		if t, ok := bd.tracked[c.Table]; ok {
			if k := changelog.KeyBytes(c.Key); !bd.s.isKnown(t.ID, k) {
				keys[t.ID] = append(keys[t.ID], k)
			}
		}
	}
	for id, ks := range keys {
		if err := bd.s.preload(id, ks); err != nil {
			return err
		}
	}
	return nil
}

// add appends c with its current clocks. With skip set, a change whose every
// clock is skip's is left out: that node already has exactly this state.
func (bd *builder) add(c changelog.Change, skip *changelog.SiteID) error {
	t, ok := bd.tracked[c.Table]
	if !ok {
		return nil
	}
	local, err := bd.s.load(t.ID, changelog.KeyBytes(c.Key))
	if err != nil {
		return err
	}
	var row Clock
	if local.row != nil {
		row = *local.row
	}
	clocks := make([]Clock, len(c.Columns))
	// An update's row clock is not part of what it carries: only its columns'.
	own := skip != nil && (c.Op == changelog.OpUpdate || row.Site == *skip)
	for i, name := range c.Columns {
		clocks[i], _ = local.column(t.ColumnIDs[name])
		own = own && clocks[i].Site == *skip
	}
	if own {
		return nil
	}
	if bd.mine {
		var keep bool
		if c, clocks, keep = bd.s.onlyMine(c, row, clocks); !keep {
			return nil
		}
	}
	bd.b.Changes = append(bd.b.Changes, bd.change(t, c, row, clocks, local))
	return nil
}

// onlyMine keeps, of a device's change, what the device itself wrote: a
// value a merge wrote over its write came from the hub, which has it or
// newer, and sending it back would look like the device's own write.
func (s *store) onlyMine(c changelog.Change, row Clock, clocks []Clock) (changelog.Change, []Clock, bool) {
	if c.Op != changelog.OpUpdate {
		return c, clocks, row.Site == s.self
	}
	out := c
	out.Columns, out.Values, clocks = nil, nil, slices.Clone(clocks)
	var kept []Clock
	for i, name := range c.Columns {
		if clocks[i].Site == s.self {
			out.Columns = append(out.Columns, name)
			out.Values = append(out.Values, c.Values[i])
			kept = append(kept, clocks[i])
		}
	}
	return out, kept, len(kept) > 0
}

func (bd *builder) change(t changelog.Tracked, c changelog.Change, row Clock, clocks []Clock, local rowClocks) codec.Change {
	ti := bd.table(t)
	cols := bd.b.Tables[ti].Columns
	rowSeen := bd.seen(local.stamps[0])
	if c.Op == changelog.OpUpdate {
		// Merging ignores an update's row clock; the newest column clock
		// keeps the frame's clock deltas small (measured: 0.80 to 0.78 of
		// zstd JSON per change).
		row = Clock{}
		for i, cc := range clocks {
			if cc.Newer(row) {
				row, rowSeen = cc, bd.seen(local.stamp(t.ColumnIDs[c.Columns[i]]))
			}
		}
	}
	out := codec.Change{Table: ti, Op: codec.Op(c.Op), Key: c.Key, Clock: bd.clock(row, rowSeen)}
	idx := make([]int, len(c.Columns))
	for i, name := range c.Columns {
		idx[i] = index(cols, name)
	}
	order := make([]int, len(idx))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return idx[order[a]] < idx[order[b]] })
	for _, i := range order {
		out.Columns = append(out.Columns, idx[i])
		out.Values = append(out.Values, c.Values[i])
		out.Clocks = append(out.Clocks, bd.clock(clocks[i], bd.seen(local.stamp(t.ColumnIDs[c.Columns[i]]))))
	}
	return out
}

// seen is what a batch says a write had seen: only a device's own writes,
// which it pushes, carry it.
func (bd *builder) seen(st stamp) uint64 {
	if !bd.mine {
		return 0
	}
	return st.seen
}

// table returns the batch index of t, adding it with all its writable columns.
func (bd *builder) table(t changelog.Tracked) int {
	if i, ok := bd.tables[t.Table.Name]; ok {
		return i
	}
	ct := codec.Table{Name: t.Table.Name}
	for _, c := range t.Table.Writable() {
		ct.Columns = append(ct.Columns, c.Name)
	}
	bd.b.Tables = append(bd.b.Tables, ct)
	bd.tables[ct.Name] = len(bd.b.Tables) - 1
	return len(bd.b.Tables) - 1
}

func (bd *builder) clock(c Clock, seen uint64) codec.Clock {
	i, ok := bd.sites[c.Site]
	if !ok {
		bd.b.Sites = append(bd.b.Sites, codec.SiteID(c.Site))
		i = len(bd.b.Sites) - 1
		bd.sites[c.Site] = i
	}
	return codec.Clock{HLC: c.HLC, Site: i, Seen: seen}
}

func index(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}
