package replicator

import (
	"context"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/replicator/rules"
)

// pendingWrites are a device's local writes not yet pushed, by row.
type pendingWrites map[string]rules.Pending

// loadPending reads the device's writes after its pushed cursor.
func loadPending(ctx context.Context, tx querier, log *changelog.Log, tracked map[string]changelog.Tracked) (pendingWrites, error) {
	cur, err := changelog.ReadCursors(ctx, tx, changelog.Hub)
	if err != nil {
		return nil, err
	}
	b, err := log.ReadOpsTx(ctx, tx, cur.Pushed, 0)
	if err != nil {
		return nil, err
	}
	p := pendingWrites{}
	for _, c := range b.Changes {
		t, ok := tracked[c.Table]
		if !ok {
			continue
		}
		r := rules.Pending{Any: true, Whole: c.Op != change.Update, Cols: map[int64]bool{}}
		for _, name := range c.Columns {
			r.Cols[t.ColumnIDs[name]] = true
		}
		p[cacheKey(t.ID, changelog.KeyBytes(c.Key))] = r
	}
	return p, nil
}
