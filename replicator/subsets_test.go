package replicator_test

import (
	"fmt"
	"strings"
	"time"

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
func subsetBatch(site codec.SiteID) *codec.Batch {
	return updatesBatch(site, func(i int) int { return i })
}

// updatesBatch is subsetBatch with the column set of change i given by
// set(i), a bit per column.
func updatesBatch(site codec.SiteID, set func(int) int) *codec.Batch {
	names := []string{"id"}
	for i := range 16 {
		names = append(names, fmt.Sprintf("c%d", i))
	}
	hlc := uint64(time.Now().UnixMilli()) << 16
	b := &codec.Batch{Origin: site, Last: 1 << 16, Sites: []codec.SiteID{site},
		Tables: []codec.Table{{Name: "w", Columns: names}}}
	insert := codec.Change{Op: codec.OpInsert, Key: []any{int64(1)}, Clock: codec.Clock{HLC: hlc}}
	for i := range names {
		insert.Columns = append(insert.Columns, i)
		insert.Values = append(insert.Values, int64(1))
		insert.Clocks = append(insert.Clocks, codec.Clock{HLC: hlc})
	}
	b.Changes = append(b.Changes, insert)
	for n := 1; n < 1<<16; n++ {
		hlc++
		c := codec.Change{Op: codec.OpUpdate, Key: []any{int64(1)}, Clock: codec.Clock{HLC: hlc}}
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

var _ = replicator.ErrInvalidBatch
