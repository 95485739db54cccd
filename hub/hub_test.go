package hub_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

func schemaDoc(t *testing.T, ddl string) *replicator.SchemaDoc {
	t.Helper()
	db := dbtest.MustOpenDB(t, dbtest.NewDB(t, ddl))
	if _, err := triggers.Install(context.Background(), db, schema.Filter{}); err != nil {
		t.Fatal(err)
	}
	doc, err := replicator.NewNode(db).SchemaDoc(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestCreate(t *testing.T) {
	st := hub.NewStore(filepath.Join(t.TempDir(), "hub"))
	st.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	defer st.Close()
	ctx := context.Background()
	doc := schemaDoc(t, `CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT); CREATE INDEX notes_body ON notes (body);`)

	// Two first devices at once get the same replica, built once.
	var wg sync.WaitGroup
	replicas := make([]*hub.Replica, 4)
	errs := make([]error, 4)
	for i := range replicas {
		wg.Add(1)
		go func() { defer wg.Done(); replicas[i], errs[i] = st.Create(ctx, "notes", doc) }()
	}
	wg.Wait()
	for i := range replicas {
		if errs[i] != nil || replicas[i] != replicas[0] {
			t.Errorf("create %d: %v, same replica %v", i, errs[i], replicas[i] == replicas[0])
		}
	}
	other := schemaDoc(t, `CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT, extra INTEGER);`)
	if _, err := st.Create(ctx, "notes", other); !errors.Is(err, replicator.ErrSchemaMismatch) {
		t.Errorf("another schema under the same name: got %v, want ErrSchemaMismatch", err)
	}
	for _, name := range []string{"../escape", ".hidden", "", "a/b", strings.Repeat("x", 65)} {
		if _, err := st.Create(ctx, name, doc); !errors.Is(err, hub.ErrBadName) {
			t.Errorf("name %q: got %v, want ErrBadName", name, err)
		}
	}
	if _, err := st.Get(ctx, "unknown"); !errors.Is(err, hub.ErrNoSchema) {
		t.Errorf("unknown name: got %v, want ErrNoSchema", err)
	}
}

func TestTokens(t *testing.T) {
	token, line, err := hub.NewToken([]string{"notes", "tasks"})
	if err != nil {
		t.Fatal(err)
	}
	all, allLine, _ := hub.NewToken([]string{"*"})
	tokens, err := hub.ParseTokens(strings.NewReader("# comment\n\n" + line + "\n" + allLine + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token, db string
		want      error
	}{
		{token, "notes", nil}, {token, "tasks", nil}, {token, "other", hub.ErrForbidden},
		{all, "anything", nil}, {"", "notes", hub.ErrUnauthorized}, {token + "x", "notes", hub.ErrUnauthorized},
	} {
		if got := tokens.Check(tc.token, tc.db); !errors.Is(got, tc.want) {
			t.Errorf("Check(%.8s..., %s) = %v, want %v", tc.token, tc.db, got, tc.want)
		}
	}
	if _, err := hub.ParseTokens(strings.NewReader(token + " notes\n")); err == nil {
		t.Error("a token file with a plain token instead of its hash was accepted")
	}
}
