package replicator_test

import (
	"context"
	"testing"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/replicator"
)

// TestPushAfterPulledColumn: a device whose own insert, not pushed yet, took
// a newer column value from its hub (two devices inserted one key, then the
// other updated it) still pushes only clocks of its own, which the hub
// requires of a push, and every node converges.
func TestPushAfterPulledColumn(t *testing.T) {
	for _, p := range []changelog.Policy{changelog.LWWColumn, changelog.LWWRow, changelog.Manual} {
		t.Run(string(p), func(t *testing.T) {
			ctx := context.Background()
			st := newStore(t)
			h := hub.Local{Store: st}
			a := policyDevice(t, h, conflictDDL, p)
			b := policyDevice(t, h, conflictDDL, p)
			a.sync(t)
			b.sync(t)
			mustExec(t, b, `INSERT INTO t VALUES ('r2', 'B', 'B')`)
			b.sync(t)
			nextMilli()
			mustExec(t, a, `INSERT INTO t VALUES ('r2', 'A', 'A')`)
			nextMilli()
			mustExec(t, b, `UPDATE t SET a = 'B1' WHERE id = 'r2'`)
			b.sync(t)
			var stats replicator.Stats
			if err := a.s.Pull(ctx, 0, &stats); err != nil {
				t.Fatal(err)
			}
			a.sync(t)
			b.sync(t)
			a.sync(t)
			assertSame(t, a, b)
			r, err := st.Get(ctx, "app")
			if err != nil {
				t.Fatal(err)
			}
			var hubRow string
			if err := r.Node.DB.Get(&hubRow, `SELECT id || '|' || a || '|' || b FROM t`); err != nil {
				t.Fatal(err)
			}
			if got := rowsOf(t, a); got != hubRow {
				t.Errorf("devices hold %q, the hub %q", got, hubRow)
			}
		})
	}
}
