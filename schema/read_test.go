package schema_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/schema"
)

func TestReadKeys(t *testing.T) {
	db := dbtest.MustOpenDB(t, dbtest.NewDB(t, `
		CREATE TABLE alias (id INTEGER PRIMARY KEY, v TEXT);
		CREATE TABLE declared (id INT PRIMARY KEY, v TEXT);
		CREATE TABLE textkey (id TEXT PRIMARY KEY);
		CREATE TABLE composite (b TEXT, a INT, v, PRIMARY KEY (a, b));
		CREATE TABLE wr (k BLOB PRIMARY KEY, v) WITHOUT ROWID;
		CREATE TABLE nopk (a, b);
		CREATE TABLE rowidcol ("rowid" TEXT, v);
		CREATE TABLE wide (a, b, c, d, e, PRIMARY KEY (a, b, c, d, e));
		CREATE TABLE st (id INTEGER PRIMARY KEY, x ANY) STRICT;
		CREATE TABLE gen (id INTEGER PRIMARY KEY, a INT, b INT AS (a + 1), c INT AS (a * 2) STORED);`))
	s, err := schema.Read(context.Background(), db, schema.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		kind schema.KeyKind
		key  []string
	}{
		"alias":     {schema.KeyRowidAlias, []string{"id"}},
		"declared":  {schema.KeyDeclared, []string{"id"}},
		"textkey":   {schema.KeyDeclared, []string{"id"}},
		"composite": {schema.KeyDeclared, []string{"a", "b"}},
		"wr":        {schema.KeyWithoutRowid, []string{"k"}},
		"nopk":      {schema.KeyRowid, []string{"rowid"}},
		"rowidcol":  {schema.KeyRowid, []string{"oid"}},
		"st":        {schema.KeyRowidAlias, []string{"id"}},
		"gen":       {schema.KeyRowidAlias, []string{"id"}},
	}
	for name, w := range want {
		tbl, ok := s.Table(name)
		if !ok {
			t.Errorf("%s: not tracked", name)
			continue
		}
		if tbl.KeyKind != w.kind || !reflect.DeepEqual(tbl.Key, w.key) {
			t.Errorf("%s: key %v (%v), want %v (%v)", name, tbl.Key, tbl.KeyKind, w.key, w.kind)
		}
	}
	if len(s.Skipped) != 1 || s.Skipped[0].Name != "wide" {
		t.Errorf("skipped %v, want only wide (5-column key)", s.Skipped)
	}
	gen, _ := s.Table("gen")
	var writable []string
	for _, c := range gen.Writable() {
		writable = append(writable, c.Name)
	}
	if !reflect.DeepEqual(writable, []string{"id", "a"}) {
		t.Errorf("writable columns of gen: %v, want [id a]", writable)
	}
	if st, _ := s.Table("st"); !st.Strict || st.Columns[1].Affinity() != schema.AffinityBlob {
		t.Errorf("st: strict %v, ANY affinity %v", st.Strict, st.Columns[1].Affinity())
	}
}

func TestReadSkips(t *testing.T) {
	db := dbtest.MustOpenDB(t, dbtest.NewDB(t, `
		CREATE TABLE keep (id INTEGER PRIMARY KEY);
		CREATE TABLE auto (id INTEGER PRIMARY KEY AUTOINCREMENT);
		CREATE VIRTUAL TABLE "my fts" USING fts5(body);
		CREATE VIRTUAL TABLE IF NOT EXISTS old USING fts4(body);
		CREATE VIRTUAL TABLE geo USING rtree(id, x0, x1);
		CREATE TABLE _sync_app (id INTEGER PRIMARY KEY);
		CREATE VIEW v AS SELECT * FROM keep;
		ANALYZE;`))
	s, err := schema.Read(context.Background(), db, schema.Filter{Exclude: []string{"AUTO"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, sk := range s.Skipped {
		got[sk.Name] = sk.Reason
	}
	for name, reason := range map[string]string{
		"auto":            "excluded (the exclude list names it)",
		"sqlite_sequence": "SQLite internal table",
		"sqlite_stat1":    "SQLite internal table",
		"my fts":          "virtual table (module fts5): SQLite cannot put triggers on it",
		"my fts_data":     "shadow table of virtual table my fts: the virtual table maintains it",
		"old":             "virtual table (module fts4): SQLite cannot put triggers on it",
		"old_segdir":      "shadow table of virtual table old: the virtual table maintains it",
		"geo_node":        "shadow table of virtual table geo: the virtual table maintains it",
		"_sync_app":       "the name prefix _sync_ is reserved for deltasync's own tables",
	} {
		if got[name] != reason {
			t.Errorf("%s: skipped because %q, want %q", name, got[name], reason)
		}
	}
	if len(s.Tables) != 1 || s.Tables[0].Name != "keep" {
		t.Errorf("tracked %v, want only keep", s.Tables)
	}
}

func TestReadFilterErrors(t *testing.T) {
	db := dbtest.MustOpenDB(t, dbtest.NewDB(t, `CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE VIEW v AS SELECT * FROM a;`))
	ctx := context.Background()
	for _, f := range []schema.Filter{{Only: []string{"nope"}}, {Exclude: []string{"nope"}}, {Only: []string{"v"}}} {
		_, err := schema.Read(ctx, db, f)
		var unknown *schema.UnknownTableError
		if !errors.As(err, &unknown) {
			t.Errorf("filter %+v: got %v, want UnknownTableError", f, err)
		}
	}
	if _, err := schema.Read(ctx, db, schema.Filter{Only: []string{"sqlite_schema"}}); err == nil {
		t.Error("--only sqlite_schema: got no error")
	}
}

func TestIdent(t *testing.T) {
	for in, want := range map[string]string{
		`plain`: `"plain"`, `with "quotes"`: `"with ""quotes"""`, `it's`: `"it's"`, `[x]`: `"[x]"`, ``: `""`,
	} {
		if got := schema.Ident(in); got != want {
			t.Errorf("Ident(%q) = %s, want %s", in, got, want)
		}
	}
}
