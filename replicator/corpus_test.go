package replicator_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/dbdiff"
	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// TestCorpusSync syncs every database of the corpus of real schemas from a
// device that holds its data to a new device that has only its schema,
// through a hub, and compares the two.
func TestCorpusSync(t *testing.T) {
	dbs := dbtest.Corpus(t)
	root := dbtest.RepoRoot(t)
	for _, name := range dbtest.Names(dbs) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := hub.Local{Store: newStore(t)}
			src := openDevice(t, h, dbs[name], name)
			ddl, err := os.ReadFile(filepath.Join(root, "testdata", "corpus", name, "schema.sql"))
			if err != nil {
				t.Fatal(err)
			}
			dst := openDevice(t, h, dbtest.NewDB(t, string(ddl)), name)
			for _, d := range []*testDevice{src, dst, src, dst} {
				d.sync(t)
			}
			r, err := dbdiff.Compare(context.Background(), src.db, dst.db)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Equal() {
				t.Errorf("%s: the new device differs:\n%s", name, r)
			}
		})
	}
}

// openDevice installs capture on an existing database and prepares its syncer.
func openDevice(t *testing.T, h device.Hub, path, name string) *testDevice {
	t.Helper()
	db := dbtest.MustOpenDB(t, path)
	ctx := context.Background()
	if _, err := triggers.Install(ctx, db, schema.Filter{}); err != nil {
		t.Fatal(err)
	}
	n := replicator.NewNode(db)
	if err := n.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return &testDevice{path: path, db: db, s: &device.Syncer{Node: n, Hub: h, Name: name}}
}
