package hub

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the seed corpora in testdata/fuzz")

// FuzzSchemaDoc feeds the hub's schema check arbitrary documents: it must
// never panic, must refuse with ErrBadSchema, and what it accepts must
// consist only of CREATE TABLE and CREATE INDEX statements.
func FuzzSchemaDoc(f *testing.F) {
	if *updateSeeds {
		writeSchemaSeeds(f)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var doc replicator.SchemaDoc
		if json.Unmarshal(body, &doc) != nil {
			return
		}
		err := checkDoc(context.Background(), &doc)
		if err != nil {
			if !errors.Is(err, ErrBadSchema) {
				t.Fatalf("refusal wraps no ErrBadSchema: %v", err)
			}
			return
		}
		for i, s := range doc.Statements {
			if !isCreate(s) {
				t.Fatalf("statement %d accepted: %q", i+1, s)
			}
		}
	})
}

// writeSchemaSeeds writes the schema of every corpus database and the
// attacks of TestSchemaUploadAttacks as seeds.
func writeSchemaSeeds(tb testing.TB) {
	dir := filepath.Join("testdata", "fuzz", "FuzzSchemaDoc")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	for name, path := range dbtest.Corpus(tb) {
		db := dbtest.MustOpenDB(tb, path)
		if _, err := triggers.Install(ctx, db, schema.Filter{}); err != nil {
			tb.Fatal(err)
		}
		doc, err := replicator.NewNode(db).SchemaDoc(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		writeSeed(tb, dir, "corpus "+name, doc)
	}
	fp := strings.Repeat("0", 64)
	for name, stmts := range map[string][]string{
		"attach":         {`CREATE TABLE x (a); ATTACH 'app.db' AS v; UPDATE v.notes SET body = 1`},
		"vacuum into":    {`CREATE TABLE x (a); VACUUM INTO '/tmp/stolen.db'`},
		"trigger":        {`CREATE TABLE t (a)`, `CREATE TRIGGER r AFTER INSERT ON t BEGIN DELETE FROM t; END`},
		"select":         {`CREATE TABLE x AS SELECT * FROM sqlite_schema`},
		"extension":      {`CREATE TABLE x (a, b AS (load_extension('x')))`},
		"temp":           {`CREATE TABLE temp.x (a)`},
		"internal":       {`CREATE TABLE _sync_state (key TEXT PRIMARY KEY, value)`},
		"index on expr":  {`CREATE TABLE t (a TEXT CHECK (length(a) < 9) DEFAULT (lower('X')))`, `CREATE INDEX ti ON t (upper(a)) WHERE a > ''`},
		"zeroblob":       {`CREATE TABLE x (id INTEGER PRIMARY KEY, n INT CHECK (length(hex(zeroblob(n))) > 0))`},
		"untrackable":    {`CREATE TABLE u (rowid, oid, _rowid_)`, `CREATE UNIQUE INDEX u_oid ON u (oid)`},
		"reserved index": {`CREATE TABLE t (id TEXT PRIMARY KEY, b TEXT)`, `CREATE INDEX _sync_conflicts_notice ON t (b)`},
	} {
		writeSeed(tb, dir, "attack "+name, &replicator.SchemaDoc{Fingerprint: fp, Statements: stmts})
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

func writeSeed(tb testing.TB, dir, name string, doc *replicator.SchemaDoc) {
	body, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", string(body))
	path := filepath.Join(dir, unsafeName.ReplaceAllString(strings.ToLower(name), "-"))
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}
