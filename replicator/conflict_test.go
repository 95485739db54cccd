package replicator_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/conflicts"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

const conflictDDL = `CREATE TABLE t (id TEXT PRIMARY KEY, a TEXT, b TEXT);`

// conflictCase is one classic race: A writes first, B a little later (a
// larger clock), each without having seen the other's write; then A, B and
// A sync, and C, which saw neither, syncs last.
type conflictCase struct {
	name   string
	a, b   string            // SQL on each device
	want   string            // t's rows on every node afterwards
	losses map[string]string // device -> its conflicts, as summary() prints them
	hub    int               // conflicts the hub records
}

func conflictCases(p changelog.Policy) []conflictCase {
	sameCol := conflictCase{name: "same column",
		a: `UPDATE t SET a = 'A' WHERE id = 'r1'`, b: `UPDATE t SET a = 'B' WHERE id = 'r1'`,
		want: "r1|B|b0", losses: map[string]string{"A": "update r1 a: A<B"}, hub: 1}
	diffCols := conflictCase{name: "different columns",
		a: `UPDATE t SET a = 'A' WHERE id = 'r1'`, b: `UPDATE t SET b = 'B' WHERE id = 'r1'`,
		want: "r1|A|B", losses: map[string]string{}}
	updDel := conflictCase{name: "update then delete",
		a: `UPDATE t SET a = 'A' WHERE id = 'r1'`, b: `DELETE FROM t WHERE id = 'r1'`,
		want: "", losses: map[string]string{"A": "deleted r1 a: A<(deleted)"}, hub: 1}
	delUpd := conflictCase{name: "delete then update",
		a: `DELETE FROM t WHERE id = 'r1'`, b: `UPDATE t SET a = 'B' WHERE id = 'r1'`,
		want: "", losses: map[string]string{"B": "deleted r1 a: B<(deleted)"}, hub: 1}
	delDel := conflictCase{name: "delete and delete",
		a: `DELETE FROM t WHERE id = 'r1'`, b: `DELETE FROM t WHERE id = 'r1'`,
		want: "", losses: map[string]string{}}
	insIns := conflictCase{name: "insert and insert",
		a: `INSERT INTO t VALUES ('r2', 'A', 'A')`, b: `INSERT INTO t VALUES ('r2', 'B', 'B')`,
		want: "r1|a0|b0\nr2|B|B", losses: map[string]string{"A": "insert r2 a: A<B, b: A<B"}, hub: 1}
	switch p {
	case changelog.LWWRow:
		// The later write's whole row wins, columns it did not change included.
		diffCols.want = "r1|a0|B"
		diffCols.losses = map[string]string{"A": "update r1 a: A<a0, b: b0<B"}
		diffCols.hub = 1
		updDel.losses = map[string]string{"A": "deleted r1 a: A<(deleted), b: b0<(deleted)"}
		// Existence is part of the row: the later update brings it back.
		delUpd.want = "r1|B|b0"
		delUpd.losses = map[string]string{"A": "delete r1 row: (deleted)<(row)"}
	case changelog.Manual:
		// The hub keeps what it accepted first: A's.
		sameCol.want = "r1|A|b0"
		sameCol.losses = map[string]string{"B": "update r1 a: B<A"}
		insIns.want = "r1|a0|b0\nr2|A|A"
		insIns.losses = map[string]string{"B": "insert r2 a: B<A, b: B<A"}
	}
	return []conflictCase{sameCol, diffCols, updDel, delUpd, delDel, insIns}
}

// TestConflictCases runs the classic races under each policy and checks the
// final row on every node and the conflicts each node recorded.
func TestConflictCases(t *testing.T) {
	for _, p := range changelog.Policies {
		for _, tc := range conflictCases(p) {
			t.Run(fmt.Sprintf("%s/%s", p, tc.name), func(t *testing.T) {
				store := newStore(t)
				devs := threeDevices(t, store, p)
				mustExec(t, devs["A"], tc.a)
				nextMilli()
				mustExec(t, devs["B"], tc.b)
				for _, name := range []string{"A", "B", "A", "C"} {
					devs[name].sync(t)
				}
				for name, d := range devs {
					if got := rowsOf(t, d); got != tc.want {
						t.Errorf("%s holds %q, want %q", name, got, tc.want)
					}
					if got, want := summary(t, d.s.Node), tc.losses[name]; got != want {
						t.Errorf("%s recorded %q, want %q", name, got, want)
					}
				}
				r, err := store.Get(context.Background(), "app")
				if err != nil {
					t.Fatal(err)
				}
				cs, err := conflicts.List(context.Background(), r.Node.DB, conflicts.Filter{})
				if err != nil || len(cs) != tc.hub {
					t.Errorf("the hub recorded %d conflicts (%v), want %d: %s", len(cs), err, tc.hub, summary(t, r.Node))
				}
			})
		}
	}
}

// TestConflictOfflineDevice: C edits a row and stays offline while A and B
// edit it in turns over many rounds, each having seen the last. C's old
// write loses under every policy (under manual because the hub accepted
// other values first), and only C's write is a conflict.
func TestConflictOfflineDevice(t *testing.T) {
	for _, p := range changelog.Policies {
		t.Run(string(p), func(t *testing.T) {
			h := hub.Local{Store: newStore(t)}
			a := policyDevice(t, h, conflictDDL+`INSERT INTO t VALUES ('r1', 'a0', 'b0');`, p)
			b := policyDevice(t, h, conflictDDL, p)
			c := policyDevice(t, h, conflictDDL, p)
			for _, d := range []*testDevice{a, b, c} {
				d.sync(t)
			}
			mustExec(t, c, `UPDATE t SET a = 'C' WHERE id = 'r1'`)
			for round := 0; round < 6; round++ {
				d := []*testDevice{a, b}[round%2]
				d.sync(t)
				nextMilli()
				mustExec(t, d, fmt.Sprintf(`UPDATE t SET a = 'round %d' WHERE id = 'r1'`, round))
				d.sync(t)
			}
			for _, d := range []*testDevice{c, a, b} {
				d.sync(t)
			}
			for _, d := range []*testDevice{a, b, c} {
				if got := rowsOf(t, d); got != "r1|round 5|b0" {
					t.Errorf("%s holds %q, want r1|round 5|b0", d.path, got)
				}
			}
			if got, want := summary(t, c.s.Node), "update r1 a: C<round 5"; got != want {
				t.Errorf("C recorded %q, want %q", got, want)
			}
			for _, d := range []*testDevice{a, b} {
				if got := summary(t, d.s.Node); got != "" {
					t.Errorf("%s recorded %q, want nothing: each round had seen the one before", d.path, got)
				}
			}
		})
	}
}

// TestResolveKeepLocal: the device whose write lost keeps it after all; the
// resolution is a new write that wins on every node.
func TestResolveKeepLocal(t *testing.T) {
	for _, p := range changelog.Policies {
		t.Run(string(p), func(t *testing.T) {
			h := hub.Local{Store: newStore(t)}
			a := policyDevice(t, h, conflictDDL+`INSERT INTO t VALUES ('r1', 'a0', 'b0');`, p)
			b := policyDevice(t, h, conflictDDL, p)
			a.sync(t)
			b.sync(t)
			mustExec(t, a, `UPDATE t SET a = 'A' WHERE id = 'r1'`)
			nextMilli()
			mustExec(t, b, `UPDATE t SET a = 'B' WHERE id = 'r1'`)
			var got []conflicts.Conflict
			for _, d := range []*testDevice{a, b} {
				d.s.Node.OnConflict = func(cs []conflicts.Conflict) { got = append(got, cs...) }
			}
			a.sync(t)
			b.sync(t)
			a.sync(t)
			loser, winner := a, b
			if p == changelog.Manual {
				loser, winner = b, a
			}
			if len(got) != 1 {
				t.Fatalf("OnConflict saw %d conflicts, want 1", len(got))
			}
			if err := conflicts.Resolve(context.Background(), loser.s.Node.DB, loser.s.Node.Site(), got[0].ID, conflicts.Keep{Side: "local"}); err != nil {
				t.Fatal(err)
			}
			lost := got[0].Columns[0].Lost
			loser.sync(t)
			winner.sync(t)
			for _, d := range []*testDevice{a, b} {
				if got := rowsOf(t, d); got != fmt.Sprintf("r1|%s|b0", lost) {
					t.Errorf("%s holds %q after resolving, want the lost value %v", d.path, got, lost)
				}
			}
			cs, err := conflicts.List(context.Background(), loser.s.Node.DB, conflicts.Filter{})
			if err != nil || len(cs) != 1 || cs[0].Resolved.IsZero() || cs[0].Resolution != "local" {
				t.Errorf("after resolve: %+v, %v; want one conflict resolved with local", cs, err)
			}
			if s := summary(t, winner.s.Node); s != "" {
				t.Errorf("resolving made a new conflict on %s: %s", winner.path, s)
			}
		})
	}
}

// TestPolicyInFingerprint: nodes that would merge a table differently
// refuse each other.
func TestPolicyInFingerprint(t *testing.T) {
	h := hub.Local{Store: newStore(t)}
	a := policyDevice(t, h, conflictDDL, changelog.Manual)
	b := policyDevice(t, h, conflictDDL, changelog.LWWColumn)
	a.sync(t)
	if _, err := b.s.SyncOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Errorf("a device with another policy synced: %v", err)
	}
}

// threeDevices makes devices A, B and C of conflictDDL under policy p, A
// holding row r1 (a0, b0), and syncs each once through store's hub.
func threeDevices(t *testing.T, store *hub.Store, p changelog.Policy) map[string]*testDevice {
	t.Helper()
	h := hub.Local{Store: store}
	devs := map[string]*testDevice{}
	for _, name := range []string{"A", "B", "C"} {
		ddl := conflictDDL
		if name == "A" {
			ddl += `INSERT INTO t VALUES ('r1', 'a0', 'b0');`
		}
		devs[name] = policyDevice(t, h, ddl, p)
	}
	for _, name := range []string{"A", "B", "C"} {
		devs[name].sync(t)
	}
	return devs
}

func policyDevice(t *testing.T, h device.Hub, ddl string, p changelog.Policy) *testDevice {
	t.Helper()
	return installDevice(t, h, ddl, map[string]changelog.Policy{"t": p})
}

// installDevice makes a database from ddl, installs deltasync with the
// policies given, and opens a node and a syncer on it.
func installDevice(t *testing.T, h device.Hub, ddl string, policies map[string]changelog.Policy) *testDevice {
	t.Helper()
	path := dbtest.NewDB(t, ddl)
	db := dbtest.MustOpenDB(t, path)
	ctx := context.Background()
	if _, err := triggers.InstallWithPolicies(ctx, db, schema.Filter{}, policies); err != nil {
		t.Fatal(err)
	}
	n := replicator.NewNode(db)
	if err := n.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return &testDevice{path: path, db: db, s: &device.Syncer{Node: n, Hub: h, Name: "app"}}
}

func mustExec(t *testing.T, d *testDevice, q string) {
	t.Helper()
	if _, err := d.db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// nextMilli waits for the wall clock to pass the next millisecond, so that
// the next write has a larger clock than the last one.
func nextMilli() {
	for start := time.Now().UnixMilli(); time.Now().UnixMilli() <= start+1; {
		time.Sleep(100 * time.Microsecond)
	}
}

func rowsOf(t *testing.T, d *testDevice) string {
	t.Helper()
	return strings.TrimSpace(dbtest.Shell(t, d.path, `SELECT id, a, b FROM t ORDER BY id;`))
}

// summary prints a node's conflicts as "kind key col: lost<won, ...; ...".
func summary(t *testing.T, n *replicator.Node) string {
	t.Helper()
	cs, err := conflicts.List(context.Background(), n.DB, conflicts.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		var cols []string
		for _, col := range c.Columns {
			if col.Column == "" {
				cols = append(cols, "row: "+side("(row)", col.LostDeleted)+"<"+side("(row)", col.WonDeleted))
				continue
			}
			cols = append(cols, fmt.Sprintf("%s: %s<%s", col.Column, side(col.Lost, col.LostDeleted), side(col.Won, col.WonDeleted)))
		}
		sort.Strings(cols)
		out = append(out, fmt.Sprintf("%s %v %s", c.Kind, c.Key[0], strings.Join(cols, ", ")))
	}
	return strings.Join(out, "; ")
}

func side(v any, deleted bool) string {
	if deleted {
		return "(deleted)"
	}
	return fmt.Sprint(v)
}
