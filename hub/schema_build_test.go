package hub_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/hub"
)

// TestSchemaInstallFailureIsInternal: once the uploaded statements have
// run, what fails is the hub's own doing (installing capture runs the
// hub's migrations and triggers): a 500 whose body carries none of the
// hub's SQL, not a 422 blaming the schema.
func TestSchemaInstallFailureIsInternal(t *testing.T) {
	th := newTenantHub(t)
	before := th.files(t)
	defer hub.FailInstall(errors.New("migrate deltasync tables: CREATE TABLE _sync_clock (...) failed"))()
	status, body := th.putSchema(t, "evil", schemaDoc(t, notesDDL))
	if status != http.StatusInternalServerError || !strings.Contains(body, "internal error (logged as ") || strings.Contains(body, "_sync_clock") {
		t.Errorf("got %d %s, want 500 internal error without the hub's SQL", status, body)
	}
	if got := th.files(t); len(got) != len(before) {
		t.Errorf("files changed: %v, was %v", got, before)
	}
}

// TestSchemaBadPolicy: a merge policy that deltasync does not know, or
// that names no tracked table, is the document's mistake: 422 naming it.
func TestSchemaBadPolicy(t *testing.T) {
	th := newTenantHub(t)
	for _, policies := range []map[string]changelog.Policy{
		{"notes": "last-one-wins"},
		{"nothing": changelog.Manual},
	} {
		doc := schemaDoc(t, notesDDL)
		doc.Policies = policies
		if status, body := th.putSchema(t, "evil", doc); status != http.StatusUnprocessableEntity || !strings.Contains(body, "policy of") {
			t.Errorf("policies %v: got %d %s, want 422 naming the policy", policies, status, body)
		}
	}
}
