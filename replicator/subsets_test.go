package replicator_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/replicator"
)

// wideDDL is a table of 16 columns besides its key: 65,535 non-empty
// subsets of them.
var wideDDL = func() string {
	cols := []string{"id INTEGER PRIMARY KEY"}
	for i := range 16 {
		cols = append(cols, fmt.Sprintf("c%d INTEGER", i))
	}
	return `CREATE TABLE w (` + strings.Join(cols, ", ") + `);`
}()

// subsetBatch is what an attacker sent: a row inserted whole, then one
// update of it per non-empty subset of its 16 columns, each newer than the
// last, all written by site.
func subsetBatch(site change.SiteID) *codec.Batch {
	return updatesBatch(site, func(i int) int { return i })
}

// updatesBatch is subsetBatch with the column set of change i given by
// set(i), a bit per column.
func updatesBatch(site change.SiteID, set func(int) int) *codec.Batch {
	names := []string{"id"}
	for i := range 16 {
		names = append(names, fmt.Sprintf("c%d", i))
	}
	hlc := change.HLC(time.Now().UnixMilli()) << 16
	b := &codec.Batch{Origin: site, Last: 1 << 16, Sites: []change.SiteID{site},
		Tables: []codec.Table{{Name: "w", Columns: names}}}
	insert := codec.Change{Op: change.Insert, Key: []any{int64(1)}, Clock: codec.Clock{HLC: hlc}}
	for i := range names {
		insert.Columns = append(insert.Columns, i)
		insert.Values = append(insert.Values, int64(1))
		insert.Clocks = append(insert.Clocks, codec.Clock{HLC: hlc})
	}
	b.Changes = append(b.Changes, insert)
	for n := 1; n < 1<<16; n++ {
		hlc++
		c := codec.Change{Op: change.Update, Key: []any{int64(1)}, Clock: codec.Clock{HLC: hlc}}
		for i := range 16 {
			if set(n)&(1<<i) != 0 {
				c.Columns = append(c.Columns, i+1)
				c.Values = append(c.Values, int64(n))
				c.Clocks = append(c.Clocks, codec.Clock{HLC: hlc})
			}
		}
		b.Changes = append(b.Changes, c)
	}
	return b
}

// TestColumnSubsets: a batch of one update per column set of a 16-column
// table (65,535 sets, a 683 KB frame) used to prepare a statement per set,
// compiling the table's triggers each time: 30 s and 1.3 GB for one merge.
// Now a merge prepares at most a few dozen statements whatever the batch
// holds, and the row ends with the last write of each column.
func TestColumnSubsets(t *testing.T) {
	d := newDevice(t, hubs[0].new(t), wideDDL)
	n := d.s.Node
	site := change.SiteID{9}
	frame := encode(t, n, subsetBatch(site), true)
	start := time.Now()
	if _, err := n.MergePush(context.Background(), frame); err != nil {
		t.Fatal(err)
	}
	t.Logf("merged a %d-byte frame of 65,536 changes in %s, preparing %d statements", len(frame), time.Since(start).Round(time.Millisecond), n.Prepares())
	// exists, insert, log, 32 column sets of their own, the shared one.
	if got := n.Prepares(); got > 40 {
		t.Errorf("the merge prepared %d statements, want at most 40 (one per column set is the bug)", got)
	}
	if got := dbtestQuery(t, d, `SELECT count(*) || ' ' || min(c0, c3, c7, c15) || ' ' || max(c0, c3, c7, c15) FROM w`); got != "1 65535 65535" {
		t.Errorf("rows, least and most of some columns: %s, want 1 row whose every column holds 65535 (its last write)", got)
	}
}

// TestColumnSubsetsOfInserts: the same attack with inserts is refused
// before anything is written: an insert carries every column.
func TestColumnSubsetsOfInserts(t *testing.T) {
	d := newDevice(t, hubs[0].new(t), wideDDL)
	n := d.s.Node
	b := subsetBatch(change.SiteID{9})
	for i := range b.Changes {
		c := &b.Changes[i]
		c.Op, c.Key = change.Insert, []any{int64(i + 1)}
		if c.Columns[0] == 0 {
			c.Values[0] = int64(i + 1)
		}
	}
	before := dump(t, d)
	_, err := n.MergePush(context.Background(), encode(t, n, b, true))
	if !errors.Is(err, replicator.ErrInvalidBatch) || !strings.Contains(err.Error(), "change 1 (insert \"w\"): writes 1 columns, a whole-row write carries all 17") {
		t.Fatalf("got %v, want ErrInvalidBatch naming change 1, an insert of 1 column of 17", err)
	}
	if after := dump(t, d); after != before {
		t.Errorf("a refused batch changed the database")
	}
	if got := n.Prepares(); got != 0 {
		t.Errorf("the refused merge prepared %d statements, want 0", got)
	}
}
