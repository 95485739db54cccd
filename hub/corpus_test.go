package hub_test

import (
	"context"
	"testing"

	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// TestCorpusSchemasBuild: the schema of every corpus database passes the
// hub's checks and builds a replica with the device's fingerprint, so that
// the checks refuse attacks, not real apps.
func TestCorpusSchemasBuild(t *testing.T) {
	ctx := context.Background()
	local := newLocal(t)
	for name, path := range dbtest.Corpus(t) {
		t.Run(name, func(t *testing.T) {
			db := dbtest.MustOpenDB(t, path)
			if _, err := triggers.Install(ctx, db, schema.Filter{}); err != nil {
				t.Fatal(err)
			}
			doc, err := replicator.NewNode(db).SchemaDoc(ctx)
			if err != nil {
				t.Fatal(err)
			}
			r, err := local.Store.Create(ctx, name, doc)
			if err != nil {
				t.Fatalf("the hub refused the schema of %s: %v", name, err)
			}
			defer r.Release()
			if r.Doc.Fingerprint != doc.Fingerprint {
				t.Errorf("replica fingerprint %.12s, device %.12s", r.Doc.Fingerprint, doc.Fingerprint)
			}
		})
	}
}
