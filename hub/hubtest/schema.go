package hubtest

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/replicator"
)

var schemaTests = []test{
	{"Unknown", schemaUnknown},
	{"AsPut", schemaAsPut},
	{"BadName", schemaBadName},
}

var putSchemaTests = []test{
	{"Again", putSchemaAgain},
	{"Mismatch", putSchemaMismatch},
	{"Bad", putSchemaBad},
	{"BadName", putSchemaBadName},
}

// badNames are database names the hub refuses on every method.
var badNames = []string{".hidden", "a b", strings.Repeat("x", 65)}

func schemaUnknown(t *testing.T, h device.Hub) {
	_, err := h.Schema(context.Background(), other)
	wantErr(t, "Schema of a database the hub never saw", err, hub.ErrNoSchema)
}

// schemaAsPut: a device that joins later compares its schema with the
// hub's, so the hub gives back exactly the document it was given.
func schemaAsPut(t *testing.T, h device.Hub) {
	want := newNotesDevice(t).doc(t)
	if len(want.Policies) == 0 {
		t.Fatal("the suite's schema document carries no policy")
	}
	if err := h.PutSchema(context.Background(), db, want); err != nil {
		t.Fatalf("PutSchema: %v", err)
	}
	got, err := h.Schema(context.Background(), db)
	if err != nil {
		t.Fatalf("Schema: %v", err)
	}
	sameDoc(t, got, want)
}

func sameDoc(t *testing.T, got, want *replicator.SchemaDoc) {
	t.Helper()
	if got.Fingerprint != want.Fingerprint {
		t.Errorf("fingerprint: got %s, want %s", got.Fingerprint, want.Fingerprint)
	}
	if !slices.Equal(got.Statements, want.Statements) {
		t.Errorf("statements: got %q, want %q", got.Statements, want.Statements)
	}
	if !maps.Equal(got.Policies, want.Policies) {
		t.Errorf("policies: got %v, want %v", got.Policies, want.Policies)
	}
}

func schemaBadName(t *testing.T, h device.Hub) {
	for _, name := range badNames {
		_, err := h.Schema(context.Background(), name)
		wantErr(t, "Schema of "+name, err, hub.ErrBadName)
	}
}

// putSchemaAgain: every device puts its schema on its first sync, so the
// same document again is no error, and changes nothing.
func putSchemaAgain(t *testing.T, h device.Hub) {
	d := newNotesDevice(t)
	join(t, h, d)
	join(t, h, newNotesDevice(t))
	got, err := h.Schema(context.Background(), db)
	if err != nil {
		t.Fatalf("Schema: %v", err)
	}
	sameDoc(t, got, d.doc(t))
}

func putSchemaMismatch(t *testing.T, h device.Hub) {
	d := newNotesDevice(t)
	join(t, h, d)
	err := h.PutSchema(context.Background(), db, newDevice(t, otherDDL, nil).doc(t))
	wantErr(t, "PutSchema of another schema under a known name", err, replicator.ErrSchemaMismatch)
	got, err := h.Schema(context.Background(), db)
	if err != nil {
		t.Fatalf("Schema: %v", err)
	}
	sameDoc(t, got, d.doc(t))
}

// putSchemaBad: a document the hub will not build from is refused, and
// leaves the name unknown.
func putSchemaBad(t *testing.T, h device.Hub) {
	good := newNotesDevice(t).doc(t)
	for _, tc := range badDocs(good) {
		t.Run(tc.name, func(t *testing.T) {
			err := h.PutSchema(context.Background(), db, tc.doc)
			wantErr(t, "PutSchema", err, tc.want)
			_, err = h.Schema(context.Background(), db)
			wantErr(t, "Schema after the refusal", err, hub.ErrNoSchema)
		})
	}
}

type badDoc struct {
	name string
	doc  *replicator.SchemaDoc
	want error
}

// badDocs are documents made from good that the hub must refuse.
func badDocs(good *replicator.SchemaDoc) []badDoc {
	with := func(change func(*replicator.SchemaDoc)) *replicator.SchemaDoc {
		d := *good
		d.Statements = slices.Clone(good.Statements)
		d.Policies = maps.Clone(good.Policies)
		change(&d)
		return &d
	}
	return []badDoc{
		{"Empty", &replicator.SchemaDoc{}, hub.ErrBadSchema},
		{"NoStatements", with(func(d *replicator.SchemaDoc) { d.Statements = nil }), hub.ErrBadSchema},
		{"BadFingerprint", with(func(d *replicator.SchemaDoc) { d.Fingerprint = "not hex" }), hub.ErrBadSchema},
		{"NotCreate", with(func(d *replicator.SchemaDoc) { d.Statements[0] = "DROP TABLE notes" }), hub.ErrBadSchema},
		{"SyntaxError", with(func(d *replicator.SchemaDoc) { d.Statements[0] = strings.TrimSuffix(d.Statements[0], ")") }), hub.ErrBadSchema},
		{"Trigger", with(func(d *replicator.SchemaDoc) {
			d.Statements = append(d.Statements, "CREATE TRIGGER t AFTER INSERT ON notes BEGIN DELETE FROM notes; END")
		}), hub.ErrBadSchema},
		{"UnknownPolicy", with(func(d *replicator.SchemaDoc) { d.Policies["tags"] = "newest-wins" }), hub.ErrBadSchema},
		{"PolicyOfNoTable", with(func(d *replicator.SchemaDoc) { d.Policies["nope"] = changelog.LWWRow }), hub.ErrBadSchema},
		{"OtherFingerprint", with(func(d *replicator.SchemaDoc) { d.Fingerprint = strings.Repeat("0", 64) }), replicator.ErrSchemaMismatch},
	}
}

func putSchemaBadName(t *testing.T, h device.Hub) {
	doc := newNotesDevice(t).doc(t)
	for _, name := range badNames {
		err := h.PutSchema(context.Background(), name, doc)
		wantErr(t, "PutSchema of "+name, err, hub.ErrBadName)
	}
}
