package replicator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/replicator/rules"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/dbtest"
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
			var stats device.Stats
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

// validDDL has a table for each kind of key, and one with constraints.
const validDDL = `CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT);
CREATE TABLE ints (id INTEGER PRIMARY KEY, v TEXT);
CREATE TABLE plain (v TEXT);
CREATE TABLE pairs (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b));
CREATE TABLE strict (id INTEGER PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0)) STRICT;`

var (
	siteA = change.SiteID{0xa}
	siteB = change.SiteID{0xb}
)

// push is a batch that site a pushes, of one change to table, whose
// columns are the table's given.
func push(table string, cols []string, c codec.Change) *codec.Batch {
	hlc := change.HLC(time.Now().UnixMilli()) << 16
	c.Clock.HLC = hlc
	for range c.Columns {
		c.Clocks = append(c.Clocks, c.Clock)
	}
	return &codec.Batch{Origin: siteA, Last: 1, Sites: []change.SiteID{siteA, siteB},
		Tables: []codec.Table{{Name: table, Columns: cols}}, Changes: []codec.Change{c}}
}

func insert(key []any, values ...any) codec.Change {
	c := codec.Change{Op: change.Insert, Key: key, Values: values}
	for i := range values {
		c.Columns = append(c.Columns, i)
	}
	return c
}

var (
	intsCols   = []string{"id", "v"}
	notesCols  = []string{"id", "title"}
	plainCols  = []string{"v"}
	pairsCols  = []string{"a", "b", "v"}
	strictCols = []string{"id", "n"}
)

// TestMergeRefusesInvalid: each batch breaks a rule every honest sender
// keeps. It is refused with ErrInvalidBatch (or ErrConstraint), whole,
// saying what was wrong, and the database is as it was, byte for byte.
func TestMergeRefusesInvalid(t *testing.T) {
	cases := []struct {
		name    string
		batch   func() *codec.Batch
		pushed  bool // refused only as a push: a device accepts it from its hub
		decoded bool // a batch the codec refuses to encode: merged as a Batch only
		want    error
		detail  string
	}{
		{"row clock of another site", func() *codec.Batch {
			b := push("ints", intsCols, insert([]any{int64(1)}, int64(1), "x"))
			b.Changes[0].Clock.Site = 1
			return b
		}, true, false, replicator.ErrInvalidBatch, "change 0: row clock names site 0b000000000000000000000000000000"},
		{"column clock of another site", func() *codec.Batch {
			b := push("ints", intsCols, insert([]any{int64(1)}, int64(1), "x"))
			b.Changes[0].Clocks[1].Site = 1
			return b
		}, true, false, replicator.ErrInvalidBatch, "change 0: clock of column 1 names site 0b"},
		{"origin of another site, clocks of the pusher", func() *codec.Batch {
			b := push("ints", intsCols, insert([]any{int64(1)}, int64(1), "x"))
			b.Origin = siteB
			return b
		}, true, false, replicator.ErrInvalidBatch, "not the pushing site 0b"},
		{"loss notice", func() *codec.Batch {
			c := insert([]any{int64(1)}, int64(1), "x")
			c.Op = change.Lost
			return push("ints", intsCols, c)
		}, true, false, replicator.ErrNotice, "change 0 is a loss notice"},
		{"key of 2 values", func() *codec.Batch {
			return push("notes", notesCols, codec.Change{Op: change.Delete, Key: []any{"n1", "n2"}})
		}, false, false, replicator.ErrInvalidBatch, `(delete "notes"): key of 2 values, the table's key ("id") has 1`},
		{"key of 1 value for 2 columns", func() *codec.Batch {
			return push("pairs", pairsCols, codec.Change{Op: change.Delete, Key: []any{"a"}})
		}, false, false, replicator.ErrInvalidBatch, `"pairs"): key of 1 values, the table's key ("a", "b") has 2`},
		{"NULL key", func() *codec.Batch {
			return push("notes", notesCols, insert([]any{nil}, nil, "x"))
		}, false, false, replicator.ErrInvalidBatch, `key column "id" is NULL`},
		{"integer key as TEXT", func() *codec.Batch {
			return push("ints", intsCols, insert([]any{"42"}, "42", "x"))
		}, false, false, replicator.ErrInvalidBatch, `key column "id" is a rowid and takes an INTEGER, got TEXT ('42')`},
		{"integer key as REAL", func() *codec.Batch {
			return push("ints", intsCols, insert([]any{43.0}, 43.0, "x"))
		}, false, false, replicator.ErrInvalidBatch, "got REAL (43.0)"},
		{"rowid as TEXT", func() *codec.Batch {
			return push("plain", plainCols, insert([]any{"42"}, "x"))
		}, false, false, replicator.ErrInvalidBatch, `"rowid" is a rowid`},
		{"rowid NULL", func() *codec.Batch {
			return push("plain", plainCols, insert([]any{nil}, "x"))
		}, false, false, replicator.ErrInvalidBatch, `key column "rowid" is NULL`},
		{"key column written with another value", func() *codec.Batch {
			return push("ints", intsCols, insert([]any{int64(1)}, int64(2), "x"))
		}, false, false, replicator.ErrInvalidBatch, `column "id" of the key is written with another value than the key (1)`},
		{"insert of some columns", func() *codec.Batch {
			return push("ints", []string{"id"}, insert([]any{int64(1)}, int64(1)))
		}, false, false, replicator.ErrInvalidBatch, "writes 1 columns, a whole-row write carries all 2"},
		{"column named twice", func() *codec.Batch {
			return push("ints", []string{"id", "v", "v"}, insert([]any{int64(1)}, int64(1), "x", "y"))
		}, false, true, replicator.ErrInvalidBatch, `column "v" of table "ints" named twice`},
		{"STRICT type", func() *codec.Batch {
			return push("strict", strictCols, insert([]any{int64(1)}, int64(1), "many"))
		}, false, false, replicator.ErrConstraint, `row (1) of "strict": column "n" of a STRICT table refuses the value's type`},
		{"NOT NULL", func() *codec.Batch {
			return push("strict", strictCols, insert([]any{int64(1)}, int64(1), nil))
		}, false, false, replicator.ErrConstraint, `row (1) of "strict": column "n" is NULL`},
		{"CHECK", func() *codec.Batch {
			return push("strict", strictCols, insert([]any{int64(1)}, int64(1), int64(-1)))
		}, false, false, replicator.ErrConstraint, `row (1) of "strict": it breaks the CHECK constraint`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDevice(t, hubs[0].new(t), validDDL)
			n := d.s.Node
			merges := map[string]func(*codec.Batch) error{}
			if !tc.decoded {
				merges["push"] = func(b *codec.Batch) error {
					_, err := n.MergePush(context.Background(), encodeRaw(t, n, b))
					return err
				}
			}
			if !tc.pushed {
				merges["pull"] = func(b *codec.Batch) error {
					_, err := n.MergeBatch(context.Background(), b, rules.RoleDevice)
					return err
				}
			}
			before := dump(t, d)
			for name, merge := range merges {
				b := tc.batch()
				b.Fingerprint = fingerprintOf(t, n)
				err := merge(b)
				if !errors.Is(err, tc.want) {
					t.Fatalf("%s: got %v, want %v", name, err, tc.want)
				}
				if !strings.Contains(err.Error(), tc.detail) {
					t.Errorf("%s: got %q, want it to say %q", name, err, tc.detail)
				}
				if after := dump(t, d); after != before {
					t.Errorf("%s: a refused batch changed the database:\n%s\nwant:\n%s", name, after, before)
				}
			}
		})
	}
}

// TestMergeAcceptsValid: the honest neighbours of the cases above merge,
// and the same frame merged again adds nothing.
func TestMergeAcceptsValid(t *testing.T) {
	cases := []struct {
		name string
		b    *codec.Batch
		want string // SQL whose answer is the rows
		rows string
	}{
		{"integer key", push("ints", intsCols, insert([]any{int64(42)}, int64(42), "x")), `SELECT group_concat(id || '=' || v) FROM ints`, "42=x"},
		{"rowid", push("plain", plainCols, insert([]any{int64(7)}, "x")), `SELECT group_concat(rowid || '=' || v) FROM plain`, "7=x"},
		{"two-column key", push("pairs", pairsCols, insert([]any{"a", int64(1)}, "a", int64(1), "x")), `SELECT group_concat(a || b || '=' || v) FROM pairs`, "a1=x"},
		{"STRICT", push("strict", strictCols, insert([]any{int64(1)}, int64(1), int64(5))), `SELECT group_concat(id || '=' || n) FROM strict`, "1=5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDevice(t, hubs[0].new(t), validDDL)
			n := d.s.Node
			tc.b.Fingerprint = fingerprintOf(t, n)
			frame := encodeRaw(t, n, tc.b)
			if _, err := n.MergePush(context.Background(), frame); err != nil {
				t.Fatal(err)
			}
			once := rowsAndClocks(t, d)
			if _, err := n.MergePush(context.Background(), frame); err != nil {
				t.Fatal(err)
			}
			if twice := rowsAndClocks(t, d); twice != once {
				t.Errorf("merging the frame again changed the database:\n%s\nafter once:\n%s", twice, once)
			}
			if got := dbtestQuery(t, d, tc.want); got != tc.rows {
				t.Errorf("rows: got %q, want %q", got, tc.rows)
			}
		})
	}
}

func fingerprintOf(t *testing.T, n *replicator.Node) [32]byte {
	t.Helper()
	_, fp, err := n.Schema(context.Background(), n.DB)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// encodeRaw encodes b as it is.
func encodeRaw(t *testing.T, n *replicator.Node, b *codec.Batch) []byte {
	t.Helper()
	return encode(t, n, b, false)
}

// dump is the whole database as text: every table, deltasync's included.
func dump(t *testing.T, d *testDevice) string {
	t.Helper()
	return dbtest.Shell(t, d.path, ".dump")
}

// rowsAndClocks is dump but for _sync_state, which holds cursors of the
// node's own bookkeeping (how far it has given its log clocks).
func rowsAndClocks(t *testing.T, d *testDevice) string {
	t.Helper()
	var keep []string
	for _, line := range strings.Split(dump(t, d), "\n") {
		if !strings.HasPrefix(line, "INSERT INTO _sync_state ") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
