package corpustest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/conflicts"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/dbdiff"
	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/replicator/rules"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// wantAppTriggers are the corpora whose apps keep triggers of their own. A
// corpus that gains or loses some fails TestAppTriggersConverge until this
// list is reviewed.
var wantAppTriggers = []string{"calibre", "sakila", "synapse", "syncthing-folder", "zotero"}

// TestAppTriggersConverge: on every corpus whose app keeps triggers of its
// own (last_update columns, counters, validations, FTS indexes), three
// devices take turns writing through the sqlite3 shell and syncing through
// a hub, each pulling in a later second than the writes it pulls were made.
// Replay must reproduce the origin's rows: every device ends with the same
// rows, and uninstall gives each back the schema it had, byte for byte.
func TestAppTriggersConverge(t *testing.T) {
	seed := testSeed(t)
	t.Logf("workload seed %d (rerun with -corpus.seed=%d)", seed, seed)
	dbs := dbtest.Corpus(t)
	var names []string
	for _, name := range dbtest.Names(dbs) {
		if appTriggerCount(t, dbs[name]) > 0 {
			names = append(names, name)
		}
	}
	if !slices.Equal(names, wantAppTriggers) {
		t.Errorf("corpora with app triggers: got %v, want %v (review wantAppTriggers)", names, wantAppTriggers)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := converge(t, name, dbs[name], seed, inLaterSeconds, false); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// turn is one step of a convergence run: devices sync, then one writes a
// pass of the workload and syncs.
type turn struct {
	pull   []int // devices that sync before the write
	writer int
}

// inLaterSeconds: each device pulls what another wrote in a later second
// than the writes: an app trigger that ran again on replay would stamp its
// own DATETIME('now') on the rows it touches.
var inLaterSeconds = []turn{{nil, 0}, {[]int{1}, 1}, {[]int{2}, 2}, {[]int{0, 1}, 0}}

// unseen: devices write passes of the workload without having seen each
// other's, so that their rows collide (same keys, same UNIQUE values, a
// parent deleted under a new child).
var unseen = []turn{{nil, 0}, {[]int{1, 2}, 1}, {nil, 2}, {nil, 0}}

// converge runs the workload of corpus name on three copies of built,
// taking turns, then syncs every device and checks that all hold the same
// rows and that uninstall restores each one's schema. It returns how many
// conflicts of each kind the devices recorded.
// With collide, the passes of the turns also give UNIQUE values to two rows
// on two devices, and swap values (collisions).
func converge(t *testing.T, name, built string, seed uint64, turns []turn, collide bool) (map[string]int, error) {
	original := dbtest.SchemaRows(t, dbtest.MustOpenDB(t, built))
	h := hub.Local{Store: newHubStore(t)}
	devs := make([]*appDevice, 3)
	for i := range devs {
		devs[i] = newAppDevice(t, h, name, copyFile(t, built))
	}
	a, b, c := devs[0], devs[1], devs[2]
	gen := &corpusRun{name: name, path: a.path, seed: seed, db: a.db}
	gen.tables = gen.tableInfos(t, a.report)
	passes := gen.workload(t)
	if collide {
		for i, extra := range collisions(t, a.db, gen.tables, seed) {
			passes[i] = append(passes[i], extra...)
		}
	}
	logDecisions(t, a.report)

	for i, turn := range turns {
		for _, d := range turn.pull {
			if err := devs[d].sync(); err != nil {
				return nil, err
			}
		}
		writer := devs[turn.writer]
		run := *gen
		run.path = writer.path
		failed := run.runShell(t, passes[i], i > 0) // the first pass loads with foreign keys off, as load.sh does
		t.Logf("%s: pass %d on %s: %d statements, %d refused by the schema", name, i+1, filepath.Base(writer.path), len(passes[i]), len(failed))
		if err := writer.sync(); err != nil {
			return nil, err
		}
		nextSecond(t, writer.db)
	}
	for _, d := range []*appDevice{b, c, a, b} {
		if err := d.sync(); err != nil {
			return nil, err
		}
	}
	for _, d := range devs {
		d.dropNullKeys(t, gen.tables)
	}
	for _, d := range []*appDevice{b, c} {
		r, err := dbdiff.Compare(context.Background(), a.db, d.db)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Equal() {
			t.Errorf("%s (seed %d): device %s differs from device a:\n%.3000s", name, seed, filepath.Base(d.path), r)
		}
	}
	kinds := map[string]int{} // read before uninstall drops them
	for _, d := range devs {
		cs, err := conflicts.List(context.Background(), d.db, conflicts.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			kinds[c.Kind]++
		}
	}
	for _, d := range devs {
		if err := triggers.Uninstall(context.Background(), d.db); err != nil {
			t.Fatal(err)
		}
		diffLines(t, name+": schema after uninstall vs before init", dbtest.SchemaRows(t, d.db), original)
	}
	return kinds, nil
}

// TestCorpusConverges: on every corpus, three devices write passes of a
// random workload through the sqlite3 shell without having seen each
// other's, then sync through a hub. Their rows collide: the same keys,
// the same values of UNIQUE columns, children of parents deleted
// elsewhere. No sync may fail or stall, every device ends with the same
// rows, and what lost is recorded: collisions on UNIQUE columns as
// conflicts of kind unique, which some corpus must have had.
func TestCorpusConverges(t *testing.T) {
	seed := testSeed(t)
	t.Logf("workload seed %d (rerun with -corpus.seed=%d)", seed, seed)
	dbs := dbtest.Corpus(t)
	var mu sync.Mutex
	total := map[string]int{}
	t.Run("each", func(t *testing.T) {
		for _, name := range dbtest.Names(dbs) {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				kinds, err := converge(t, name, dbs[name], seed, unseen, true)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: conflicts recorded on the devices: %v", name, kinds)
				mu.Lock()
				defer mu.Unlock()
				for k, n := range kinds {
					total[k] += n
				}
			})
		}
	})
	t.Logf("conflicts recorded, all corpora: %v", total)
	if total[rules.KindUnique] == 0 {
		t.Errorf("no corpus had a UNIQUE collision (%v): the workload no longer tests them", total)
	}
}

// appDevice is a device of a convergence run: its database with
// capture installed, and its syncer on the in-process hub.
type appDevice struct {
	path   string
	db     *sqlx.DB
	report *triggers.Report
	s      *device.Syncer
}

func newAppDevice(t *testing.T, h device.Hub, name, path string) *appDevice {
	t.Helper()
	ctx := context.Background()
	db := dbtest.MustOpenDB(t, path)
	rep, err := triggers.Install(ctx, db, schema.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	n := replicator.NewNode(db)
	if err := n.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return &appDevice{path: path, db: db, report: rep, s: &device.Syncer{Node: n, Hub: h, Name: name}}
}

func (d *appDevice) sync() error {
	if _, err := d.s.SyncOnce(context.Background()); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Base(d.path), err)
	}
	return nil
}

// dropNullKeys deletes the rows whose key has a NULL, which name no row
// and are not captured (init warns; see TestNullPrimaryKey), so that the
// comparison is of what syncs.
func (d *appDevice) dropNullKeys(t *testing.T, tables []*tableInfo) {
	t.Helper()
	for _, ti := range tables {
		var null []string
		for _, k := range ti.Key {
			null = append(null, schema.Ident(k)+" IS NULL")
		}
		where := ` FROM ` + schema.Ident(ti.Name) + ` WHERE ` + strings.Join(null, " OR ")
		var n int
		if err := d.db.Get(&n, `SELECT count(*)`+where); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			continue // a DELETE compiles the table's triggers, and calibre's FTS5 ones need a module the driver lacks
		}
		if _, err := d.db.Exec(`DELETE` + where); err != nil {
			t.Fatal(err)
		}
	}
}

// nextSecond waits until SQLite's clock, which the apps' DATETIME('now')
// reads, has passed the second it shows now.
func nextSecond(t *testing.T, db *sqlx.DB) {
	t.Helper()
	const q = `SELECT strftime('%s', 'now')`
	var start, now string
	if err := db.Get(&start, q); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if err := db.Get(&now, q); err != nil {
			t.Fatal(err)
		}
		if now != start {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("SQLite's clock stayed at %s for 10 s", start)
		}
	}
}

func appTriggerCount(t *testing.T, path string) int {
	t.Helper()
	var n int
	err := dbtest.MustOpenDB(t, path).Get(&n, `SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'`)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// logDecisions says what init made of the app's triggers.
func logDecisions(t *testing.T, rep *triggers.Report) {
	t.Helper()
	guarded := 0
	for _, a := range rep.AppTriggers {
		if a.Guarded {
			guarded++
		} else {
			t.Logf("fires on replay: %s on %s (writes %v)", a.Name, a.Table, a.Writes)
		}
		if a.Warning != "" {
			t.Logf("warning: %s: %s", a.Name, a.Warning)
		}
	}
	t.Logf("%d app triggers, %d guarded", len(rep.AppTriggers), guarded)
}

func newHubStore(t *testing.T) *hub.Store {
	t.Helper()
	st := hub.NewStore(filepath.Join(t.TempDir(), "hub"))
	st.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Cleanup(func() { st.Close() })
	return st
}

// copyFile copies a database file that no connection has open.
func copyFile(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	in, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, in, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}
