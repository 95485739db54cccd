package hubtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// db is the database name the suite syncs; other is one the hub never saw.
const (
	db    = "notes"
	other = "never-seen"
)

// notesDDL is the schema the suite's devices share: a UNIQUE column and a
// CHECK to break, an index, and a second table with a policy that is not
// the default, so that the schema document carries one.
const notesDDL = `CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT, tag TEXT UNIQUE, n INTEGER NOT NULL DEFAULT 0 CHECK (n >= 0));
CREATE INDEX notes_body ON notes (body);
CREATE TABLE tags (name TEXT PRIMARY KEY, color TEXT);`

var notesPolicies = map[string]changelog.Policy{"tags": changelog.LWWRow}

// otherDDL is another schema under the same database name.
const otherDDL = `CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT);`

// device is a database with capture installed and its replicator node, as
// a device that syncs through the hub has them.
type testDevice struct {
	node *replicator.Node
	db   *sqlx.DB
}

// newDevice makes a device on a new database with ddl, its tables given
// policies.
func newDevice(t *testing.T, ddl string, policies map[string]changelog.Policy) *testDevice {
	t.Helper()
	_, sdb := dbtest.MustInstall(t, ddl)
	ctx := context.Background()
	if _, err := triggers.InstallWithPolicies(ctx, sdb, schema.Filter{}, policies); err != nil {
		t.Fatal(err)
	}
	n := replicator.NewNode(sdb)
	if err := n.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return &testDevice{node: n, db: sdb}
}

// newNotesDevice makes a device with the suite's schema.
func newNotesDevice(t *testing.T) *testDevice {
	t.Helper()
	return newDevice(t, notesDDL, notesPolicies)
}

func (d *testDevice) site() change.SiteID { return d.node.Site() }

func (d *testDevice) doc(t *testing.T) *replicator.SchemaDoc {
	t.Helper()
	doc, err := d.node.SchemaDoc(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// exec writes to the device's database as its app would.
func (d *testDevice) exec(t *testing.T, sql string) {
	t.Helper()
	if _, err := d.db.Exec(sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// insert writes n rows to notes, with ids prefix1 to prefixN.
func (d *testDevice) insert(t *testing.T, prefix string, n int) {
	t.Helper()
	var sql strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sql, "INSERT INTO notes (id, body) VALUES ('%s%d', 'body of %s%d');\n", prefix, i, prefix, i)
	}
	d.exec(t, sql.String())
}

// frame is the device's next push: its changes after version since, and
// the version the frame reaches.
func (d *testDevice) frame(t *testing.T, since change.Version) ([]byte, change.Version) {
	t.Helper()
	frame, through, n, err := d.node.Outgoing(context.Background(), since)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("the device has no changes after version %d to push", since)
	}
	return frame, through
}

// decode decodes a frame the hub served, failing t if it is not one.
func decode(t *testing.T, frame []byte) *codec.Batch {
	t.Helper()
	dec, err := codec.NewDecoder(codec.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	b, err := dec.Decode(frame)
	if err != nil {
		t.Fatalf("decode the hub's frame: %v", err)
	}
	return b
}

// encode encodes a batch the suite crafted.
func encode(t *testing.T, b *codec.Batch) []byte {
	t.Helper()
	enc, err := codec.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	frame, err := enc.Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return frame
}

// rows lists b's changes as text, one line per change, in a stable order:
// table, op, key and every column's value, without clocks or versions.
func rows(b *codec.Batch) []string {
	out := make([]string, 0, len(b.Changes))
	for _, c := range b.Changes {
		t := b.Tables[c.Table]
		cols := make([]string, len(c.Columns))
		for i, ci := range c.Columns {
			cols[i] = fmt.Sprintf("%s=%v", t.Columns[ci], c.Values[i])
		}
		slices.Sort(cols)
		out = append(out, fmt.Sprintf("%s %s %v %s", t.Name, c.Op, c.Key, strings.Join(cols, " ")))
	}
	slices.Sort(out)
	return out
}
