package benchmarks_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/conflicts"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/sqlitefile"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// policyRows is how many rows each policy benchmark moves.
const policyRows = 20000

// BenchmarkConflictPolicy measures what each merge policy costs against
// lww-column, on the notes table, through an in-process hub, with fresh
// databases for every policy of every iteration and the policies timed in
// turns. Three workloads:
//
//   - replay: a new device pulls policyRows rows another device inserted
//     (the replay benchmark's work; policies change nothing for inserts).
//   - updates: device A updates the title of every row and pushes; B
//     pulls. No write is concurrent, so this is the cost of detection.
//   - conflicts: A and B both update the title of every row while apart;
//     A syncs, B syncs (the hub finds policyRows concurrent writes and
//     records the losers), A syncs again (and records the notices).
//
// ns/change is the median time per row; x-lww-column the median of the
// paired ratios to lww-column in the same iteration.
func BenchmarkConflictPolicy(b *testing.B) {
	for _, work := range []string{"replay", "updates", "conflicts"} {
		b.Run("work="+work, func(b *testing.B) {
			perChange := map[changelog.Policy][]float64{}
			ratio := map[changelog.Policy][]float64{}
			for b.Loop() {
				var base float64
				for _, p := range changelog.Policies {
					d := policyRun(b, p, work)
					ns := float64(d.Nanoseconds()) / policyRows
					if p == changelog.LWWColumn {
						base = ns
					}
					perChange[p] = append(perChange[p], ns)
					ratio[p] = append(ratio[p], ns/base)
				}
			}
			for _, p := range changelog.Policies {
				b.ReportMetric(median(perChange[p]), fmt.Sprintf("ns/change-%s", p))
				if p != changelog.LWWColumn {
					b.ReportMetric(median(ratio[p]), fmt.Sprintf("x-lww-column-%s", p))
				}
			}
		})
	}
}

// policyRun sets up a hub and two devices under policy p, does the work
// and returns how long the timed part took.
func policyRun(b *testing.B, p changelog.Policy, work string) time.Duration {
	ctx := context.Background()
	sc := newSyncScope(b)
	defer sc.close()
	dir := sc.dir()
	store := hub.NewStore(filepath.Join(dir, "hub"))
	store.Logger = syncLogger
	sc.Cleanup(func() { store.Close() })
	h := hub.Local{Store: store}
	a := policyDevice(sc, dir, "a", h, p)
	syncMust(b, insertNotes(ctx, a.app, noteRows(0, policyRows), policyRows), "insert on a")
	_, err := a.sync.SyncOnce(ctx)
	syncMust(b, err, "push from a")
	d := policyDevice(sc, dir, "b", h, p)
	start := time.Now()
	_, err = d.sync.SyncOnce(ctx)
	syncMust(b, err, "pull on b")
	if work == "replay" {
		return time.Since(start)
	}
	_, err = a.app.ExecContext(ctx, `UPDATE notes SET title = title || ' (a)'`)
	syncMust(b, err, "update on a")
	if work == "conflicts" {
		_, err = d.app.ExecContext(ctx, `UPDATE notes SET title = title || ' (b)'`)
		syncMust(b, err, "update on b")
	}
	start = time.Now()
	for _, dev := range []*syncDevice{a, d, a} {
		_, err = dev.sync.SyncOnce(ctx)
		syncMust(b, err, "sync")
	}
	took := time.Since(start)
	if work == "conflicts" {
		cs, err := conflicts.List(ctx, a.node.DB, conflicts.Filter{})
		syncMust(b, err, "list conflicts")
		if len(cs) != policyRows && p != changelog.Manual {
			b.Fatalf("%s: a recorded %d conflicts, want %d", p, len(cs), policyRows)
		}
	}
	return took
}

// policyDevice is newSyncDevice with a policy for the notes table.
func policyDevice(sc *syncScope, dir, name string, h device.Hub, p changelog.Policy) *syncDevice {
	ctx := context.Background()
	d := &syncDevice{path: filepath.Join(dir, name+".db")}
	d.app = openNotesDB(sc, d.path, false)
	db, err := sqlitefile.Open(ctx, d.path, sqlitefile.Options{CacheKiB: noteCache, WAL: true})
	syncMust(sc, err, "open %s", name)
	sc.Cleanup(func() { db.Close() })
	_, err = triggers.InstallWithPolicies(ctx, db, schema.Filter{}, map[string]changelog.Policy{"notes": p})
	syncMust(sc, err, "install on %s", name)
	d.node = replicator.NewNode(db)
	d.node.Logger = syncLogger
	syncMust(sc, d.node.Open(ctx), "open node %s", name)
	sc.Cleanup(func() { d.node.Close() })
	d.sync = &device.Syncer{Node: d.node, Hub: h, Name: "notes"}
	return d
}
