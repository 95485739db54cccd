package corpustest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

var seedFlag = flag.Uint64("corpus.seed", 0,
	"seed of the random workload (0: take CORPUSTEST_SEED from the environment, else the clock under DELTASYNC_FRESH_SEEDS, else a fixed seed)")

var verboseFlag = flag.Bool("corpus.verbose", false, "log every workload statement that failed, with its error")

// wantSkipped lists, per corpus, every table init does not track and a
// substring of the reason it must give. Every corpus load.sh builds has an
// entry, so that a new corpus, a new skip or a table that is no longer
// skipped fails the test until this table is reviewed.
//
// Review: every entry is a table deltasync cannot or must not put triggers
// on, and no app's own ordinary table is skipped (the tracked counts equal
// the "tables" column of testdata/corpus/README.md). sqlite_sequence and
// sqlite_stat1 belong to SQLite, which writes them itself and refuses
// triggers on them (AUTOINCREMENT counters and ANALYZE statistics stay per
// node). A virtual table cannot carry triggers, and the shadow tables of an
// FTS index are written by the FTS module: where the index has external
// content (calibre, datasette-fixtures, llm-logs) the content table is
// tracked and each node's index follows it through the app's triggers or
// a rebuild; synapse's two FTS4 tables keep their own content, so their rows
// are not synced at all: a limit of capture by triggers.
var wantSkipped = map[string]map[string]string{
	"anki": {
		"sqlite_stat1": "SQLite internal table",
	},
	"anki-media": {},
	"calibre": {
		"annotations_fts":                 "virtual table (module fts5)",
		"annotations_fts_config":          "shadow table of virtual table annotations_fts",
		"annotations_fts_data":            "shadow table of virtual table annotations_fts",
		"annotations_fts_docsize":         "shadow table of virtual table annotations_fts",
		"annotations_fts_idx":             "shadow table of virtual table annotations_fts",
		"annotations_fts_stemmed":         "virtual table (module fts5)",
		"annotations_fts_stemmed_config":  "shadow table of virtual table annotations_fts_stemmed",
		"annotations_fts_stemmed_data":    "shadow table of virtual table annotations_fts_stemmed",
		"annotations_fts_stemmed_docsize": "shadow table of virtual table annotations_fts_stemmed",
		"annotations_fts_stemmed_idx":     "shadow table of virtual table annotations_fts_stemmed",
		"sqlite_sequence":                 "SQLite internal table",
	},
	"chinook": {},
	"chinook-autoinc": {
		"sqlite_sequence": "SQLite internal table",
	},
	"datasette-fixtures": {
		"searchable_fts":         "virtual table (module fts5)",
		"searchable_fts_config":  "shadow table of virtual table searchable_fts",
		"searchable_fts_data":    "shadow table of virtual table searchable_fts",
		"searchable_fts_docsize": "shadow table of virtual table searchable_fts",
		"searchable_fts_idx":     "shadow table of virtual table searchable_fts",
	},
	"datasette-generated-stored":  {},
	"datasette-generated-virtual": {},
	"firefox-places":              {},
	"llm-logs": {
		"turn_search_fts":         "virtual table (module fts5)",
		"turn_search_fts_config":  "shadow table of virtual table turn_search_fts",
		"turn_search_fts_data":    "shadow table of virtual table turn_search_fts",
		"turn_search_fts_docsize": "shadow table of virtual table turn_search_fts",
		"turn_search_fts_idx":     "shadow table of virtual table turn_search_fts",
		"responses_fts":           "virtual table (module fts5)",
		"responses_fts_config":    "shadow table of virtual table responses_fts",
		"responses_fts_data":      "shadow table of virtual table responses_fts",
		"responses_fts_docsize":   "shadow table of virtual table responses_fts",
		"responses_fts_idx":       "shadow table of virtual table responses_fts",
	},
	"memos": {
		"sqlite_sequence": "SQLite internal table",
	},
	"northwind": {
		"sqlite_sequence": "SQLite internal table",
	},
	"roundcube":       {},
	"sakila":          {},
	"simplexmq-agent": {"sqlite_sequence": "SQLite internal table"},
	"strawberry":      {},
	"synapse": {
		"event_search":                   "virtual table (module fts4)",
		"event_search_content":           "shadow table of virtual table event_search",
		"event_search_docsize":           "shadow table of virtual table event_search",
		"event_search_segdir":            "shadow table of virtual table event_search",
		"event_search_segments":          "shadow table of virtual table event_search",
		"event_search_stat":              "shadow table of virtual table event_search",
		"user_directory_search":          "virtual table (module fts4)",
		"user_directory_search_content":  "shadow table of virtual table user_directory_search",
		"user_directory_search_docsize":  "shadow table of virtual table user_directory_search",
		"user_directory_search_segdir":   "shadow table of virtual table user_directory_search",
		"user_directory_search_segments": "shadow table of virtual table user_directory_search",
		"user_directory_search_stat":     "shadow table of virtual table user_directory_search",
	},
	"syncthing-folder": {"sqlite_sequence": "SQLite internal table"},
	"trilium":          {"sqlite_sequence": "SQLite internal table"},
	"zotero":           {},
}

// TestCorpus installs deltasync on every corpus database, runs a random
// workload through the stock sqlite3 shell and checks that every row the
// workload changed is in the changelog exactly as the table holds it, and
// nothing else; then uninstalls and checks that the schema is as before.
func TestCorpus(t *testing.T) {
	seed := testSeed(t)
	t.Logf("workload seed %d (rerun with -corpus.seed=%d or CORPUSTEST_SEED=%d)", seed, seed, seed)
	dbs := dbtest.Corpus(t)
	names := dbtest.Names(dbs)
	for _, name := range names {
		if _, ok := wantSkipped[name]; !ok {
			t.Errorf("corpus %s has no entry in wantSkipped: run the test, review its skipped tables and add them", name)
		}
	}
	for name := range wantSkipped {
		if _, ok := dbs[name]; !ok {
			t.Errorf("wantSkipped names corpus %s, which load.sh did not build", name)
		}
	}
	runs := make([]*corpusRun, len(names))
	t.Run("corpus", func(t *testing.T) {
		for i, name := range names {
			runs[i] = &corpusRun{name: name, path: dbs[name], seed: seed}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				runs[i].run(t)
			})
		}
	})

	// The workload as a whole must have exercised every kind of write on
	// most tables, so that the test cannot pass by doing nothing.
	var total runStats
	changed, ran := 0, 0
	for _, r := range runs {
		if r.stats.statements > 0 {
			ran++
		}
		total.tables += r.stats.tables
		total.statements += r.stats.statements
		total.failed += r.stats.failed
		total.inserted += r.stats.inserted
		total.updated += r.stats.updated
		total.deleted += r.stats.deleted
		total.keyUpdates += r.stats.keyUpdates
		changed += len(r.stats.changed)
	}
	t.Logf("%d corpora: %d statements, %d failed; rows %d inserted, %d updated, %d deleted; %d key updates; %d of %d tracked tables changed",
		ran, total.statements, total.failed, total.inserted, total.updated, total.deleted, total.keyUpdates, changed, total.tables)
	if t.Failed() {
		t.Logf("seed %d: rerun with -corpus.seed=%d", seed, seed)
		return
	}
	if ran < len(runs) {
		return // -run chose some corpora: the totals below are for all of them
	}
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"rows inserted", total.inserted, 1000},
		{"rows updated", total.updated, 500},
		{"rows deleted", total.deleted, 200},
		{"key updates", total.keyUpdates, 50},
		{"tables changed (percent)", 100 * changed / max(1, total.tables), 75},
	} {
		if c.got < c.want {
			t.Errorf("workload (seed %d): %s: got %d, want at least %d", seed, c.what, c.got, c.want)
		}
	}
}

func testSeed(t *testing.T) uint64 {
	t.Helper()
	if *seedFlag != 0 {
		return *seedFlag
	}
	if s := os.Getenv("CORPUSTEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CORPUSTEST_SEED=%q: %v", s, err)
		}
		return v
	}
	if os.Getenv("DELTASYNC_FRESH_SEEDS") != "" {
		return uint64(time.Now().UnixNano()) // make soak
	}
	// make test is deterministic: one fixed seed, the same every run.
	return fixedSeed
}

// fixedSeed is the workload seed of make test; make soak draws fresh ones.
const fixedSeed = 20261205

// corpusRun is the test of one corpus database.
type corpusRun struct {
	name, path string
	seed       uint64
	db         *sqlx.DB
	tables     []*tableInfo
	stats      runStats
}

// where names the corpus and seed in failure messages.
func (c *corpusRun) where() string {
	return fmt.Sprintf("corpus %s (seed %d)", c.name, c.seed)
}

func (c *corpusRun) run(t *testing.T) {
	ctx := context.Background()
	c.db = dbtest.MustOpenDB(t, c.path)
	schemaBefore := dbtest.SchemaRows(t, c.db)

	// 1. init succeeds and skips exactly the expected tables.
	start := time.Now()
	rep, err := triggers.Install(ctx, c.db, schema.Filter{})
	if err != nil {
		t.Fatalf("%s: install: %v", c.where(), err)
	}
	c.checkReport(t, rep)
	if n := c.changelogRows(t); n != 0 {
		t.Fatalf("%s: changelog after install: got %d rows, want 0", c.where(), n)
	}

	// 4. A second init changes nothing.
	c.checkReinstall(t, rep)

	// 2. A random workload through the sqlite3 shell is captured change for
	// change. It runs in two phases with a read of the changelog after each:
	// the first mostly inserts (most corpora are schema only), so that the
	// second updates and deletes rows that existed before it, which its read
	// (since the first read's version) must report as updates and deletes.
	// A last read of the whole run checks coalescing over both phases.
	c.tables = c.tableInfos(t, rep)
	passes := c.workload(t)
	phases := [][]stmt{passes[0], slices.Concat(passes[1:]...)}
	log := changelog.New(c.db)
	first := c.snapshot(t)
	before := first
	var since change.Version
	for i, stmts := range phases {
		// Phase 1 loads data as an import would, with foreign keys off (as
		// load.sh does: sakila's store and staff refer to each other); phase
		// 2 runs with them on, so that ON DELETE CASCADE and ON UPDATE
		// CASCADE fire.
		failed := c.runShell(t, stmts, i > 0)
		after := c.snapshot(t)
		b, err := log.Read(ctx, since, 0)
		if err != nil {
			t.Fatalf("%s: read changelog since %d: %v", c.where(), since, err)
		}
		phase := fmt.Sprintf("phase %d", i+1)
		st := c.checkCapture(t, phase, before, after, b, since, start)
		c.report(t, phase, stmts, failed, st)
		before, since = after, b.Through
	}
	b, err := log.Read(ctx, 0, 0)
	if err != nil {
		t.Fatalf("%s: read changelog: %v", c.where(), err)
	}
	c.checkCapture(t, "whole run", first, before, b, 0, start)
	// What a peer does with the changes: applied in order to the rows as
	// they were, they must give the rows as they are, read at once or in
	// pages of a few changelog rows.
	c.checkReplay(t, "whole run", first, before, []*changelog.Batch{b})
	limit := 1 + int(c.seed%13)
	c.checkReplay(t, fmt.Sprintf("pages of %d", limit), first, before, c.readPages(t, log, limit))
	if len(c.stats.changed) == 0 {
		t.Errorf("%s: the workload changed no row of any table: got 0 changed tables, want at least 1", c.where())
	}

	// 3. Uninstall restores the schema and leaves the data as the workload left it.
	dataBefore := c.dumpAll(t)
	if err := triggers.Uninstall(ctx, c.db); err != nil {
		t.Fatalf("%s: uninstall: %v", c.where(), err)
	}
	c.checkUninstalled(t, schemaBefore, dataBefore, before)
}

// ---------------------------------------------------------------------------
// init and uninstall

func (c *corpusRun) checkReport(t *testing.T, rep *triggers.Report) {
	t.Helper()
	got := map[string]string{}
	for _, s := range rep.Skipped {
		got[s.Name] = s.Reason
		t.Logf("%s: skipped %s: %s", c.name, s.Name, s.Reason)
	}
	want := wantSkipped[c.name]
	for _, name := range sortedKeys(got) {
		reason, ok := want[name]
		switch {
		case !ok:
			t.Errorf("%s: init skipped table %q (%s): got skipped, want tracked (or add it to wantSkipped after review)",
				c.where(), name, got[name])
		case !strings.Contains(got[name], reason):
			t.Errorf("%s: skip reason of %q: got %q, want it to contain %q", c.where(), name, got[name], reason)
		}
	}
	for _, name := range sortedKeys(want) {
		if _, ok := got[name]; !ok {
			t.Errorf("%s: table %q: got not skipped, want skipped with reason %q", c.where(), name, want[name])
		}
	}

	// Every table is either tracked or skipped: none is silently left out.
	var all []string
	err := c.db.Select(&all, `SELECT name FROM pragma_table_list
		WHERE schema = 'main' AND type <> 'view'
		AND name NOT IN ('sqlite_schema', 'sqlite_master', 'sqlite_temp_schema') AND name NOT GLOB '_sync_*'
		ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range rep.Skipped {
		seen[s.Name] = true
	}
	for _, tr := range rep.Tracked {
		if seen[tr.Name] {
			t.Errorf("%s: table %q is both tracked and skipped", c.where(), tr.Name)
		}
		seen[tr.Name] = true
		if tr.Created < 2 || tr.Dropped != 0 {
			t.Errorf("%s: first install of %q: got %d triggers created, %d dropped; want at least 2 created, 0 dropped",
				c.where(), tr.Name, tr.Created, tr.Dropped)
		}
	}
	for _, name := range all {
		if !seen[name] {
			t.Errorf("%s: table %q: got neither tracked nor skipped, want one of them", c.where(), name)
		}
	}
	if len(rep.Tracked) == 0 {
		t.Errorf("%s: got 0 tracked tables, want at least 1", c.where())
	}
}

// checkReinstall runs Install again and checks that it changed nothing:
// not the schema (deltasync's own objects included), not deltasync's
// tables, not a byte of the file.
func (c *corpusRun) checkReinstall(t *testing.T, first *triggers.Report) {
	t.Helper()
	schema1, state1, file1 := c.allSchemaRows(t), c.internalState(t), fileDigest(t, c.path)
	rep, err := triggers.Install(context.Background(), c.db, schema.Filter{})
	if err != nil {
		t.Fatalf("%s: second install: %v", c.where(), err)
	}
	for _, tr := range rep.Tracked {
		if tr.Created != 0 || tr.Dropped != 0 {
			t.Errorf("%s: second install of %q: got %d triggers created, %d dropped; want 0, 0",
				c.where(), tr.Name, tr.Created, tr.Dropped)
		}
	}
	if got, want := trackedNames(rep), trackedNames(first); !equalStrings(got, want) {
		t.Errorf("%s: second install tracks %v, want %v", c.where(), got, want)
	}
	if got, want := fmt.Sprint(rep.Skipped), fmt.Sprint(first.Skipped); got != want {
		t.Errorf("%s: second install skipped %s, want %s", c.where(), got, want)
	}
	diffLines(t, c.where()+": sqlite_schema after second install", c.allSchemaRows(t), schema1)
	diffLines(t, c.where()+": deltasync's tables after second install", c.internalState(t), state1)
	if got := fileDigest(t, c.path); got != file1 {
		t.Errorf("%s: database file after second install: got sha256 %s, want %s (unchanged)", c.where(), got, file1)
	}
}

func (c *corpusRun) checkUninstalled(t *testing.T, schemaBefore []string, dataBefore map[string][]string, after snapshot) {
	t.Helper()
	diffLines(t, c.where()+": schema after uninstall vs before install", dbtest.SchemaRows(t, c.db), schemaBefore)
	var left []string
	err := c.db.Select(&left, `SELECT type || ' ' || name FROM sqlite_schema
		WHERE name GLOB '_sync_*' OR tbl_name GLOB '_sync_*' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("%s: after uninstall: got deltasync objects %q, want none", c.where(), left)
	}
	dataAfter := c.dumpAll(t)
	for _, name := range sortedKeys(dataBefore) {
		diffLines(t, fmt.Sprintf("%s: rows of %q after uninstall", c.where(), name), dataAfter[name], dataBefore[name])
	}
	for _, name := range sortedKeys(dataAfter) {
		if _, ok := dataBefore[name]; !ok {
			t.Errorf("%s: after uninstall: got new table %q, want none", c.where(), name)
		}
	}
	// The tracked tables hold exactly what the workload left.
	now := c.snapshot(t)
	for _, ti := range c.tables {
		a, b := now[ti.Name], after[ti.Name]
		if len(a) != len(b) {
			t.Errorf("%s: table %q after uninstall: got %d rows, want %d", c.where(), ti.Name, len(a), len(b))
			continue
		}
		for k, r := range b {
			if got, ok := a[k]; !ok || !equalValues(got.vals, r.vals) {
				t.Errorf("%s: table %q key %s after uninstall: got %s, want %s",
					c.where(), ti.Name, fmtValues(r.key), fmtValues(got.vals), fmtValues(r.vals))
			}
		}
	}
	var ok string
	if err := c.db.Get(&ok, `PRAGMA integrity_check`); err != nil || ok != "ok" {
		t.Errorf("%s: integrity_check after uninstall: got %q (%v), want ok", c.where(), ok, err)
	}
}

// allSchemaRows is every row of sqlite_schema, deltasync's own included.
func (c *corpusRun) allSchemaRows(t *testing.T) []string {
	t.Helper()
	var rows []string
	err := c.db.Select(&rows, `SELECT type || '|' || name || '|' || tbl_name || '|' || rootpage || '|' || coalesce(sql, '')
		FROM sqlite_schema ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// internalState is the content of deltasync's tables, and the changelog's size.
func (c *corpusRun) internalState(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, name := range []string{"_sync_state", "_sync_tables", "_sync_columns", "_sync_peers", "_sync_applied", "_sync_schema_migrations"} {
		for _, r := range c.dumpTable(t, name) {
			out = append(out, name+": "+r)
		}
	}
	return append(out, fmt.Sprintf("_sync_changelog: %d rows", c.changelogRows(t)))
}

func (c *corpusRun) changelogRows(t *testing.T) int {
	t.Helper()
	var n int
	if err := c.db.Get(&n, `SELECT count(*) FROM _sync_changelog`); err != nil {
		t.Fatal(err)
	}
	return n
}

// dumpAll returns the rows of every table except deltasync's and virtual
// tables (whose module the Go driver may lack), each sorted.
func (c *corpusRun) dumpAll(t *testing.T) map[string][]string {
	t.Helper()
	var names []string
	err := c.db.Select(&names, `SELECT name FROM sqlite_schema WHERE type = 'table'
		AND name NOT GLOB '_sync_*' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, name := range names {
		out[name] = c.dumpTable(t, name)
	}
	return out
}

// dumpTable returns every row of a table, all columns typed, sorted.
func (c *corpusRun) dumpTable(t *testing.T, name string) []string {
	t.Helper()
	var cols []string
	if err := c.db.Select(&cols, `SELECT name FROM pragma_table_xinfo(?) ORDER BY cid`, name); err != nil {
		t.Fatal(err)
	}
	sel := make([]string, len(cols))
	for i, col := range cols {
		sel[i] = "+" + schema.Ident(col)
	}
	var out []string
	for _, r := range c.query(t, fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), schema.Ident(name))) {
		out = append(out, fmtValues(r))
	}
	sort.Strings(out)
	return out
}

func fileDigest(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// ---------------------------------------------------------------------------
// what the workload needs to know about the tables

// fkRef is one column's foreign key.
type fkRef struct {
	id     int
	parent string
	to     string // parent column
}

// fkListRow is a row of pragma_foreign_key_list.
type fkListRow struct {
	ID     int     `db:"id"`
	Parent string  `db:"table"`
	From   string  `db:"from"`
	To     *string `db:"to"`
}

// colInfo is a writable column of a tracked table, with what the generator
// needs to give it values the table accepts.
type colInfo struct {
	schema.Column
	strictType string   // STRICT tables: the declared type, upper case
	hasDefault bool     // the column has a DEFAULT, so an INSERT may leave it out
	inList     []string // SQL literals that CHECK (col IN (...)) or CHECK (col = ...) allows
	json       bool     // a JSON function of the table's SQL reads the column: give it JSON
	fk         *fkRef
	samples    []any // values the column holds before the workload
}

// tableInfo is a tracked table as the workload generator sees it.
type tableInfo struct {
	schema.Table
	cols          []colInfo
	order         []string // quoted expressions that order its rows: rowid or the key of a WITHOUT ROWID table
	autoincrement bool
}

// jsonArgRe finds columns that a JSON function reads (json_extract(body,
// '$.n') in a generated column): any other text makes every insert fail,
// and a workload of failed inserts changes nothing.
var jsonArgRe = regexp.MustCompile(`(?i)\bjson\w*\(\s*([A-Za-z_][A-Za-z0-9_]*|"[^"]+"|\[[^\]]+\]|` + "`[^`]+`" + `)\s*[,)]`)

var checkInRe = regexp.MustCompile(`(?i)CHECK\s*\(\s*([A-Za-z_][A-Za-z0-9_]*|"[^"]+"|\[[^\]]+\]|` + "`[^`]+`" + `)\s*(?:IN\s*\(([^()]*)\)|=\s*('[^']*'))\s*\)`)

func (c *corpusRun) tableInfos(t *testing.T, rep *triggers.Report) []*tableInfo {
	t.Helper()
	var out []*tableInfo
	for _, tr := range rep.Tracked {
		ti := &tableInfo{Table: tr.Table, order: c.orderOf(t, tr.Name)}
		var create string
		if err := c.db.Get(&create, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`, tr.Name); err != nil {
			t.Fatal(err)
		}
		ti.autoincrement = strings.Contains(strings.ToUpper(create), "AUTOINCREMENT")
		checks := map[string][]string{}
		for _, m := range checkInRe.FindAllStringSubmatch(create, -1) {
			col := strings.ToLower(unquote(m[1]))
			if m[2] != "" {
				for _, lit := range strings.Split(m[2], ",") {
					checks[col] = append(checks[col], strings.TrimSpace(lit))
				}
			} else {
				checks[col] = append(checks[col], m[3])
			}
		}
		var defaults []struct {
			Name string  `db:"name"`
			Dflt *string `db:"dflt_value"`
		}
		if err := c.db.Select(&defaults, `SELECT name, dflt_value FROM pragma_table_xinfo(?)`, tr.Name); err != nil {
			t.Fatal(err)
		}
		jsonCols := map[string]bool{}
		for _, m := range jsonArgRe.FindAllStringSubmatch(create, -1) {
			jsonCols[strings.ToLower(unquote(m[1]))] = true
		}
		hasDefault := map[string]bool{}
		for _, d := range defaults {
			hasDefault[d.Name] = d.Dflt != nil
		}
		var fks []fkListRow
		if err := c.db.Select(&fks, `SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?)`, tr.Name); err != nil {
			t.Fatal(err)
		}
		fkOf := map[string]*fkRef{}
		for _, f := range fks {
			to := ""
			if f.To != nil {
				to = *f.To
			}
			if to == "" {
				to = c.primaryKeyColumn(t, f.Parent, f.From, fks)
			}
			fkOf[f.From] = &fkRef{id: f.ID, parent: f.Parent, to: to}
		}
		for _, col := range tr.Writable() {
			ci := colInfo{Column: col, hasDefault: hasDefault[col.Name], fk: fkOf[col.Name],
				inList: checks[strings.ToLower(col.Name)], json: jsonCols[strings.ToLower(col.Name)]}
			if tr.Strict {
				ci.strictType = strings.ToUpper(col.Type)
			}
			ci.samples = c.samples(t, tr.Name, col.Name)
			ti.cols = append(ti.cols, ci)
		}
		out = append(out, ti)
	}
	return out
}

// primaryKeyColumn returns the column of parent's primary key that the
// child column from refers to, for a REFERENCES clause without columns.
func (c *corpusRun) primaryKeyColumn(t *testing.T, parent, from string, fks []fkListRow) string {
	t.Helper()
	var pk []string
	if err := c.db.Select(&pk, `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, parent); err != nil {
		t.Fatal(err)
	}
	// The n-th column of a composite foreign key refers to the n-th key column.
	var id, pos int
	for _, f := range fks {
		if f.From == from {
			id = f.ID
		}
	}
	for _, f := range fks {
		if f.ID == id {
			if f.From == from {
				break
			}
			pos++
		}
	}
	if pos < len(pk) {
		return pk[pos]
	}
	return "rowid"
}

// orderOf returns expressions that order table's rows in a stable way.
func (c *corpusRun) orderOf(t *testing.T, table string) []string {
	t.Helper()
	var wr bool
	if err := c.db.Get(&wr, `SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?`, table); err != nil {
		t.Fatalf("table list of %q: %v", table, err)
	}
	var cols []string
	if err := c.db.Select(&cols, `SELECT name FROM pragma_table_xinfo(?)`, table); err != nil {
		t.Fatal(err)
	}
	if !wr {
		for _, cand := range []string{"rowid", "oid", "_rowid_"} {
			shadowed := false
			for _, col := range cols {
				shadowed = shadowed || strings.EqualFold(col, cand)
			}
			if !shadowed {
				return []string{cand}
			}
		}
	}
	var pk []string
	if err := c.db.Select(&pk, `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, table); err != nil {
		t.Fatal(err)
	}
	for i := range pk {
		pk[i] = schema.Ident(pk[i])
	}
	return pk
}

// samples returns up to 16 distinct values a column holds.
func (c *corpusRun) samples(t *testing.T, table, col string) []any {
	t.Helper()
	var out []any
	for _, r := range c.query(t, fmt.Sprintf(`SELECT DISTINCT +%s FROM %s LIMIT 16`, schema.Ident(col), schema.Ident(table))) {
		if r[0] != nil {
			out = append(out, r[0])
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// the workload

// stmt is one write of the workload: one SQL statement, or a few (such as
// BEGIN, a write, ROLLBACK), each run as a line of its own.
type stmt struct {
	table, kind string
	sql         []string
}

func one(table, kind, sql string) stmt { return stmt{table, kind, []string{sql}} }

// gen generates the workload of one corpus.
type gen struct {
	rng    *rand.Rand
	tables map[string]*tableInfo
	serial int
}

// workload returns 20 to 40 random statements per tracked table, in four
// passes over the tables in random order; the first pass mostly inserts, so
// that later passes find rows to update and delete and parents to refer to.
func (c *corpusRun) workload(t *testing.T) [][]stmt {
	t.Helper()
	h := fnv.New64a()
	h.Write([]byte(c.name))
	g := &gen{rng: rand.New(rand.NewPCG(c.seed, h.Sum64())), tables: map[string]*tableInfo{}}
	for _, ti := range c.tables {
		g.tables[ti.Name] = ti
	}
	const passes = 4
	per := make([]int, len(c.tables))
	for i := range per {
		per[i] = 20 + g.rng.IntN(21)
	}
	out := make([][]stmt, passes)
	for pass := 0; pass < passes; pass++ {
		for _, i := range g.rng.Perm(len(c.tables)) {
			ti := c.tables[i]
			n := per[i] / passes
			if pass < per[i]%passes {
				n++
			}
			for j := 0; j < n; j++ {
				var s stmt
				p := g.rng.Float64()
				switch {
				case pass == 0 && p < 0.7, pass > 0 && p < 0.35:
					s = one(ti.Name, "insert", g.insert(ti))
				case pass > 0 && p < 0.42:
					s = g.upsert(ti)
				case pass == 0 && p < 0.9, pass > 0 && p < 0.8:
					s = g.update(ti)
				case pass == passes-1 && p > 0.995:
					s = one(ti.Name, "delete", "DELETE FROM "+schema.Ident(ti.Name)) // all rows
				default:
					s = one(ti.Name, "delete", g.delete(ti))
				}
				if g.rng.IntN(40) == 0 {
					// Written and rolled back: nothing of it may be captured.
					s = stmt{ti.Name, "rolled back", slices.Concat([]string{"BEGIN"}, s.sql, []string{"ROLLBACK"})}
				}
				out[pass] = append(out[pass], s)
			}
		}
	}
	return out
}

func (g *gen) insert(ti *tableInfo) string {
	fkRow := map[int]int64{} // one parent row per foreign key, for composite keys
	var names, vals []string
	for _, col := range ti.cols {
		v, ok := g.insertValue(ti, col, fkRow)
		if !ok {
			continue
		}
		names = append(names, schema.Ident(col.Name))
		vals = append(vals, v)
	}
	if len(names) == 0 {
		return fmt.Sprintf("INSERT INTO %s DEFAULT VALUES", schema.Ident(ti.Name))
	}
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", schema.Ident(ti.Name), strings.Join(names, ", "), strings.Join(vals, ", "))
}

// insertValue returns the SQL of a value for col, or false to leave the
// column out (its default, or an allocated rowid).
func (g *gen) insertValue(ti *tableInfo, col colInfo, fkRow map[int]int64) (string, bool) {
	p := g.rng.Float64()
	switch {
	case ti.KeyKind == schema.KeyRowidAlias && col.KeyIndex > 0:
		if p < 0.75 {
			return "", false
		}
		return strconv.FormatInt(g.rowidValue(ti), 10), true
	case col.hasDefault && p < 0.2:
		return "", false
	}
	return g.value(ti, col, fkRow, false), true
}

// value returns the SQL of a value for col that the table probably accepts:
// mostly a parent's key for a foreign key, an allowed value for a CHECK
// list, a value the column already holds, or a random value of the
// column's type; now and then NULL or a value of another storage class.
func (g *gen) value(ti *tableInfo, col colInfo, fkRow map[int]int64, update bool) string {
	p := g.rng.Float64()
	switch {
	case col.fk != nil && p < 0.95:
		k, ok := fkRow[col.fk.id]
		if !ok {
			k = g.rng.Int64N(1 << 30)
			fkRow[col.fk.id] = k
		}
		v := g.pick(col.fk.parent, []string{schema.Ident(col.fk.to)}, k, 1)
		if col.NotNull || col.KeyIndex > 0 {
			// An empty parent gives NULL: give a value that fails the
			// foreign key instead.
			v = fmt.Sprintf("coalesce(%s, %s)", v, literal(g.random(ti, col)))
		}
		return v
	case col.json && p < 0.9:
		return literal(g.json())
	case len(col.inList) > 0 && p < 0.85:
		return col.inList[g.rng.IntN(len(col.inList))]
	case !col.NotNull && col.KeyIndex == 0 && p < 0.12:
		return "NULL"
	case !col.NotNull && col.KeyIndex > 0 && ti.NullableKey() && p < 0.03:
		// SQLite allows NULL in the declared primary key of a rowid table;
		// such rows are not captured (init warns), which snapshot models
		// by leaving them out.
		return "NULL"
	case len(col.samples) > 0 && col.KeyIndex == 0 && p < 0.3:
		v := col.samples[g.rng.IntN(len(col.samples))]
		if !(update && isZeroFloat(v)) {
			return literal(v)
		}
	}
	for {
		v := g.random(ti, col)
		// An update from 0.0 to -0.0 is a documented blind spot of the
		// triggers: keep zeros out of updates.
		if !(update && isZeroFloat(v)) {
			return literal(v)
		}
	}
}

func isZeroFloat(v any) bool {
	f, ok := v.(float64)
	return ok && f == 0
}

// random returns a random value for col, of the storage class its type
// calls for (exactly so in a STRICT table).
func (g *gen) random(ti *tableInfo, col colInfo) any {
	class := "ibrtn"[g.rng.IntN(5)] // integer, blob, real, text, numeric text
	if ti.Strict {
		switch col.strictType {
		case "INT", "INTEGER":
			class = 'i'
		case "REAL":
			class = 'r'
		case "TEXT":
			class = 't'
		case "BLOB":
			class = 'b'
		}
	} else if g.rng.Float64() < 0.9 {
		switch col.Affinity() {
		case schema.AffinityInteger:
			class = 'i'
		case schema.AffinityReal:
			class = 'r'
		case schema.AffinityText:
			class = 't'
		case schema.AffinityNumeric:
			class = "irn"[g.rng.IntN(3)]
		}
	}
	switch class {
	case 'i':
		return g.integer()
	case 'r':
		return g.real()
	case 't':
		return g.text(col.KeyIndex > 0)
	case 'n':
		return time.Unix(g.rng.Int64N(2e9), 0).UTC().Format("2006-01-02 15:04:05")
	}
	return g.blob()
}

// rowidValue returns a value for an INTEGER PRIMARY KEY. The largest rowid
// makes SQLite pick later rowids at random, but in an AUTOINCREMENT table it
// makes every later insert fail, so those get no such value.
func (g *gen) rowidValue(ti *tableInfo) int64 {
	if g.rng.IntN(10) == 0 {
		if !ti.autoincrement && g.rng.IntN(3) == 0 {
			return math.MaxInt64
		}
		return []int64{-1, 0, 1 << 40}[g.rng.IntN(3)]
	}
	return 1 + g.rng.Int64N(1_000_000)
}

func (g *gen) integer() int64 {
	switch p := g.rng.IntN(10); {
	case p < 5:
		return 1 + g.rng.Int64N(1000)
	case p < 7:
		return g.rng.Int64N(10)
	case p < 9:
		return int64(g.rng.Uint64())
	default:
		return []int64{math.MinInt64, math.MaxInt64, -1, 1<<53 + 1}[g.rng.IntN(4)]
	}
}

func (g *gen) real() float64 {
	special := []float64{0.1 + 0.2, 1e308, -1e308, 5e-324, math.Inf(1), math.Inf(-1), math.Pi, -2.5, 1, 1e20,
		123456789.123456789, 0, math.Copysign(0, -1)}
	if g.rng.IntN(3) == 0 {
		return special[g.rng.IntN(len(special))]
	}
	return (g.rng.Float64() - 0.3) * math.Pow(10, float64(g.rng.IntN(12)))
}

var texts = []string{
	"plain", "O'Reilly", `say "hi"`, "it''s", "héllo wörld", "日本語のテキスト", "emoji 🎉🚀", "",
	" ", "tab\there", "line\nbreak", "nul\x00byte", "\xff\xfe invalid utf-8", "Ünïcödé ÄÖÜ ß",
	"NULL", "null", "a;b", "-- not a comment", "/* x */", "[x]", "`x`", `back\slash`, "é", "E\u0301",
	"2024-02-29 12:34:56", "12345", "1.5", "0x10", "right-to-left \u202e txt", `["json", "array"]`,
}

// text returns a random text; one meant for a key has a unique tail. One
// in six is a JSON object (datasette's generated columns extract from one).
func (g *gen) text(unique bool) string {
	g.serial++
	if g.rng.IntN(6) == 0 {
		return g.json()
	}
	s := texts[g.rng.IntN(len(texts))]
	if unique || g.rng.IntN(2) == 0 {
		s += fmt.Sprintf(" #%d-%x", g.serial, g.rng.Uint32())
	}
	return s
}

func (g *gen) json() string {
	g.serial++
	return fmt.Sprintf(`{"number": %d, "string": "s#%d", "list": [1, 2.5, null]}`, g.rng.IntN(100), g.serial)
}

func (g *gen) blob() []byte {
	n := []int{0, 1, 16, 64, 300}[g.rng.IntN(5)]
	if g.rng.IntN(50) == 0 {
		n = 20000
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.UintN(256))
	}
	return b
}

// pick is a scalar subquery for the columns cols of the k-th row of table
// (modulo its row count) in a stable order; limit rows for a row-value IN.
func (g *gen) pick(table string, cols []string, k int64, limit int) string {
	order := []string{"rowid"}
	if ti := g.tables[table]; ti != nil {
		order = ti.order
	}
	q := schema.Ident(table)
	return fmt.Sprintf("(SELECT %s FROM %s ORDER BY %s LIMIT %d OFFSET (%d %% max(1, (SELECT count(*) FROM %s))))",
		strings.Join(cols, ", "), q, strings.Join(order, ", "), limit, k, q)
}

// rows is a WHERE clause that selects one (sometimes three) existing rows.
func (g *gen) rows(ti *tableInfo) string {
	limit := 1
	if g.rng.IntN(8) == 0 {
		limit = 3
	}
	return fmt.Sprintf("(%s) IN %s", strings.Join(ti.order, ", "),
		g.pick(ti.Name, ti.order, g.rng.Int64N(1<<30), limit))
}

// update returns an UPDATE of one to three columns of existing rows, now
// and then of a key column ("key update").
func (g *gen) update(ti *tableInfo) stmt {
	var keyCols, other []colInfo
	for _, col := range ti.cols {
		if col.KeyIndex > 0 {
			keyCols = append(keyCols, col)
		} else {
			other = append(other, col)
		}
	}
	var set []colInfo
	if len(keyCols) > 0 && (len(other) == 0 || g.rng.IntN(5) == 0) {
		set = append(set, keyCols[g.rng.IntN(len(keyCols))]) // a key change
	}
	if len(other) > 0 {
		n := 1 + g.rng.IntN(min(3, len(other)))
		for _, i := range g.rng.Perm(len(other))[:n] {
			set = append(set, other[i])
		}
	}
	if len(set) == 0 {
		return one(ti.Name, "delete", g.delete(ti))
	}
	fkRow := map[int]int64{}
	var parts []string
	kind := "update"
	for _, col := range set {
		if col.KeyIndex > 0 {
			kind = "key update"
		}
		var v string
		switch p := g.rng.IntN(20); {
		case p == 0:
			v = schema.Ident(col.Name) // sets the value it has: no change
		case p == 1:
			// A change of case only (or of a number's storage class in an
			// untyped column), which a NOCASE column compares equal.
			v = []string{"upper(", "lower("}[g.rng.IntN(2)] + schema.Ident(col.Name) + ")"
		case ti.KeyKind == schema.KeyRowidAlias && col.KeyIndex > 0:
			v = strconv.FormatInt(g.rowidValue(ti), 10)
		default:
			v = g.value(ti, col, fkRow, true)
		}
		parts = append(parts, schema.Ident(col.Name)+" = "+v)
	}
	return one(ti.Name, kind, fmt.Sprintf("UPDATE %s SET %s WHERE %s", schema.Ident(ti.Name), strings.Join(parts, ", "), g.rows(ti)))
}

// upsert returns an INSERT that copies an existing row with one column
// changed, so that it conflicts and its ON CONFLICT DO UPDATE sets that
// column: the way syncthing's triggers write, fired by the update triggers.
func (g *gen) upsert(ti *tableInfo) stmt {
	var other []colInfo
	for _, col := range ti.cols {
		if col.KeyIndex == 0 {
			other = append(other, col)
		}
	}
	if len(other) == 0 {
		return g.update(ti)
	}
	set := other[g.rng.IntN(len(other))]
	var names, vals []string
	if ti.KeyKind == schema.KeyRowid {
		names, vals = append(names, ti.Key[0]), append(vals, ti.Key[0])
	}
	for _, col := range ti.cols {
		q := schema.Ident(col.Name)
		names = append(names, q)
		if col.Name == set.Name {
			vals = append(vals, g.value(ti, col, map[int]int64{}, true))
		} else {
			vals = append(vals, q)
		}
	}
	q := schema.Ident(ti.Name)
	return one(ti.Name, "upsert", fmt.Sprintf(
		"INSERT INTO %s (%s) SELECT %s FROM %s WHERE true ORDER BY %s LIMIT 1 OFFSET (%d %% max(1, (SELECT count(*) FROM %s))) ON CONFLICT DO UPDATE SET %s = excluded.%s",
		q, strings.Join(names, ", "), strings.Join(vals, ", "), q, strings.Join(ti.order, ", "), g.rng.Int64N(1<<30), q,
		schema.Ident(set.Name), schema.Ident(set.Name)))
}

func (g *gen) delete(ti *tableInfo) string {
	return fmt.Sprintf("DELETE FROM %s WHERE %s", schema.Ident(ti.Name), g.rows(ti))
}

// literal renders a typed value as SQL that yields exactly it.
func literal(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case int64:
		if v == math.MinInt64 {
			return "(-9223372036854775807 - 1)"
		}
		return strconv.FormatInt(v, 10)
	case float64:
		switch {
		case math.IsInf(v, 1):
			return "9e999"
		case math.IsInf(v, -1):
			return "-9e999"
		}
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		if strings.HasPrefix(s, "-") {
			s = "(" + s + ")"
		}
		return s
	case string:
		if !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return "CAST(X'" + hex.EncodeToString([]byte(v)) + "' AS TEXT)"
		}
		return schema.Literal(v)
	case []byte:
		return "X'" + hex.EncodeToString(v) + "'"
	}
	panic(fmt.Sprintf("literal of %T", v))
}

// errorRe matches the sqlite3 shell's report of a failed statement.
var errorRe = regexp.MustCompile(`(?m)^(?:Parse|Runtime) error near line (\d+): (.*)$|^Error: near line (\d+): (.*)$`)

// runShell runs the statements in one stock sqlite3 shell without -bail: a
// statement the schema refuses (constraint, RAISE(ABORT), an app function
// the shell lacks) fails alone and the script goes on. Every SQL statement
// is on a line of its own, because the shell skips the rest of a line after
// an error (BEGIN; failing; ROLLBACK on one line would leave the
// transaction open). It returns the error of each failed stmt by index.
func (c *corpusRun) runShell(t *testing.T, stmts []stmt, foreignKeys bool) map[int]string {
	t.Helper()
	var script strings.Builder
	var owner []int // per line of the script: the index of its stmt, -1 for none
	line := func(sql string, i int) {
		if strings.ContainsAny(sql, "\n\r") {
			t.Fatalf("statement spans lines: %s", sql)
		}
		script.WriteString(sql + ";\n")
		owner = append(owner, i)
	}
	line(fmt.Sprintf("PRAGMA foreign_keys = %v", foreignKeys), -1)
	line("PRAGMA synchronous = OFF", -1)
	for i, s := range stmts {
		for _, sql := range s.sql {
			line(sql, i)
		}
	}
	// Fails if a transaction was left open, which the shell would roll
	// back silently on exit.
	line("BEGIN", -1)
	line("ROLLBACK", -1)

	cmd := exec.Command(dbtest.SQLite3(t), "-batch", c.path)
	cmd.Stdin = strings.NewReader(script.String())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s: sqlite3: %v", c.where(), err)
	}
	if stdout.Len() > 0 {
		t.Errorf("%s: sqlite3 printed %.500q, want nothing", c.where(), stdout.String())
	}
	failed := map[int]string{}
	for _, m := range errorRe.FindAllStringSubmatch(stderr.String(), -1) {
		ln, msg := m[1], m[2]
		if ln == "" {
			ln, msg = m[3], m[4]
		}
		n, _ := strconv.Atoi(ln)
		if n < 1 || n > len(owner) || owner[n-1] < 0 {
			t.Fatalf("%s: sqlite3 failed outside the workload, line %d: %s", c.where(), n, msg)
		}
		if _, dup := failed[owner[n-1]]; !dup {
			failed[owner[n-1]] = msg
		}
	}
	if err != nil && len(failed) == 0 {
		t.Fatalf("%s: sqlite3: %v, but no failed statement reported:\n%.2000s", c.where(), err, stderr.String())
	}
	return failed
}

// ---------------------------------------------------------------------------
// snapshots and the comparison

// row is one row of a tracked table: its key and its writable values.
type row struct{ key, vals []any }

// snapshot holds, per tracked table, its rows by encoded key. Rows whose
// key is NULL are left out: they are not captured (see TestNullPrimaryKey).
type snapshot map[string]map[string]row

func (c *corpusRun) snapshot(t *testing.T) snapshot {
	t.Helper()
	s := snapshot{}
	nullKeys := 0
	defer func() {
		if nullKeys > 0 {
			t.Logf("%s: %d rows with a NULL key left out of the snapshot", c.name, nullKeys)
		}
	}()
	for _, ti := range c.tables {
		var sel []string
		for _, k := range ti.Key {
			sel = append(sel, "+"+schema.Ident(k))
		}
		for _, col := range ti.cols {
			sel = append(sel, "+"+schema.Ident(col.Name))
		}
		rows := map[string]row{}
		for _, r := range c.query(t, fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), schema.Ident(ti.Name))) {
			nk := len(ti.Key)
			if slices.Contains(r[:nk], nil) {
				if !ti.NullableKey() {
					t.Fatalf("%s: table %q has a NULL key %s, but schema says its key is not nullable", c.where(), ti.Name, fmtValues(r[:nk]))
				}
				nullKeys++
				continue
			}
			k := encode(r[:nk])
			if _, dup := rows[k]; dup {
				t.Fatalf("%s: table %q has two rows with key %s", c.where(), ti.Name, fmtValues(r[:nk]))
			}
			rows[k] = row{key: r[:nk], vals: r[nk:]}
		}
		s[ti.Name] = rows
	}
	return s
}

func (c *corpusRun) query(t *testing.T, q string) [][]any {
	t.Helper()
	rows, err := c.db.Query(q)
	if err != nil {
		t.Fatalf("%s: %s: %v", c.where(), q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %s: %v", c.where(), q, err)
		}
		for i, v := range vals {
			switch v.(type) {
			case nil, int64, float64, string, []byte:
			default:
				t.Fatalf("%s: %s: column %d is %T, want a storage class", c.where(), q, i, v)
			}
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %s: %v", c.where(), q, err)
	}
	return out
}

// captureStats counts what the workload did to the rows, per table.
type captureStats struct {
	inserted, updated, deleted map[string]int
	transient                  int // deletes of rows that were inserted and deleted again
}

// checkCapture compares the changelog with the difference of the snapshots:
// every row that differs has exactly one change with the right op and the
// row's values, and every other change is a legitimate result of coalescing.
func (c *corpusRun) checkCapture(t *testing.T, phase string, before, after snapshot, b *changelog.Batch, since change.Version, start time.Time) captureStats {
	t.Helper()
	st := captureStats{inserted: map[string]int{}, updated: map[string]int{}, deleted: map[string]int{}}
	errs := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if errs++; errs <= 40 {
			t.Errorf("%s, %s: "+format, append([]any{c.where(), phase}, args...)...)
		}
	}
	defer func() {
		if errs > 40 {
			t.Errorf("%s, %s: %d more capture errors", c.where(), phase, errs-40)
		}
	}()
	if b.Since != since {
		fail("batch since: got %d, want %d", b.Since, since)
	}
	var last change.Version
	if err := c.db.Get(&last, `SELECT coalesce(max(version), 0) FROM _sync_changelog`); err != nil {
		t.Fatal(err)
	}
	if b.Through != last {
		fail("batch through: got %d, want %d (the last version)", b.Through, last)
	}

	byKey := map[string]map[string]changelog.Change{}
	infos := map[string]*tableInfo{}
	for _, ti := range c.tables {
		byKey[ti.Name] = map[string]changelog.Change{}
		infos[ti.Name] = ti
	}
	lo, hi := start.Add(-time.Minute), time.Now().Add(time.Minute)
	for _, ch := range b.Changes {
		m, ok := byKey[ch.Table]
		if !ok {
			fail("got a change of table %q, which is not tracked", ch.Table)
			continue
		}
		if len(ch.Key) != len(infos[ch.Table].Key) {
			fail("table %q: change key %s: got %d key values, want %d", ch.Table, fmtValues(ch.Key), len(ch.Key), len(infos[ch.Table].Key))
			continue
		}
		if slices.Contains(ch.Key, nil) {
			fail("table %q: got %s of key %s, want no change of a NULL key (such rows are not captured)", ch.Table, fmtChange(ch), fmtValues(ch.Key))
			continue
		}
		k := encode(ch.Key)
		if prev, dup := m[k]; dup {
			fail("table %q key %s: got two changes (%s and %s), want one", ch.Table, fmtValues(ch.Key), fmtChange(prev), fmtChange(ch))
		}
		m[k] = ch
		if ch.At.Before(lo) || ch.At.After(hi) {
			fail("table %q key %s: write time %v outside the test's run [%v, %v]", ch.Table, fmtValues(ch.Key), ch.At, lo, hi)
		}
	}

	for _, ti := range c.tables {
		writable := make([]string, len(ti.cols))
		for i, col := range ti.cols {
			writable[i] = col.Name
		}
		changes := byKey[ti.Name]
		bt, at := before[ti.Name], after[ti.Name]
		keys := map[string][]any{}
		for k, r := range bt {
			keys[k] = r.key
		}
		for k, r := range at {
			keys[k] = r.key
		}
		for _, k := range sortedKeys(keys) {
			br, inB := bt[k]
			ar, inA := at[k]
			ch, has := changes[k]
			delete(changes, k)
			key := fmtValues(keys[k])
			switch {
			case !inB: // a new row: an insert with all its values
				st.inserted[ti.Name]++
				switch {
				case !has:
					fail("table %q key %s: got no change, want insert %s", ti.Name, key, fmtValues(ar.vals))
				case ch.Op != change.Insert:
					fail("table %q key %s: got %s, want insert %s", ti.Name, key, fmtChange(ch), fmtValues(ar.vals))
				default:
					c.checkValues(fail, ti.Name, key, ch, writable, ar.vals)
				}
			case !inA: // a removed row: a delete
				st.deleted[ti.Name]++
				switch {
				case !has:
					fail("table %q key %s: got no change, want delete (row was %s)", ti.Name, key, fmtValues(br.vals))
				case ch.Op != change.Delete:
					fail("table %q key %s: got %s, want delete", ti.Name, key, fmtChange(ch))
				case len(ch.Columns) != 0 || len(ch.Values) != 0:
					fail("table %q key %s: got %s, want a delete without values", ti.Name, key, fmtChange(ch))
				}
			default:
				var changed []string
				for i, col := range ti.cols {
					if !sameValue(br.vals[i], ar.vals[i]) {
						changed = append(changed, col.Name)
					}
				}
				if len(changed) > 0 {
					st.updated[ti.Name]++
				}
				switch {
				case !has && len(changed) == 0:
					// untouched, or touched without effect
				case !has:
					fail("table %q key %s: got no change, want update of %q from %s to %s",
						ti.Name, key, changed, fmtValues(br.vals), fmtValues(ar.vals))
				case ch.Op == change.Delete:
					fail("table %q key %s: got delete, but the row exists: %s", ti.Name, key, fmtValues(ar.vals))
				case ch.Op == change.Insert: // deleted and inserted again, or a key changed back
					c.checkValues(fail, ti.Name, key, ch, writable, ar.vals)
				default:
					names := map[string]bool{}
					for _, n := range ch.Columns {
						names[n] = true
					}
					for _, n := range changed {
						if !names[n] {
							fail("table %q key %s: update got columns %q, want them to include %q (changed columns %q: %s -> %s)",
								ti.Name, key, ch.Columns, n, changed, fmtValues(br.vals), fmtValues(ar.vals))
						}
					}
					c.checkValues(fail, ti.Name, key, ch, writable, ar.vals)
				}
			}
		}
		// What is left belongs to rows that neither existed before nor exist
		// now: inserted and deleted again, which coalesces into a delete.
		for _, k := range sortedKeys(changes) {
			ch := changes[k]
			if ch.Op != change.Delete {
				fail("table %q key %s: got %s for a row that exists neither before nor after the workload, want delete or nothing",
					ti.Name, fmtValues(ch.Key), fmtChange(ch))
			}
			st.transient++
		}
	}
	return st
}

// readPages reads the whole changelog limit rows at a time.
func (c *corpusRun) readPages(t *testing.T, log *changelog.Log, limit int) []*changelog.Batch {
	t.Helper()
	ctx := context.Background()
	last, err := log.LastVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*changelog.Batch
	for since := change.Version(0); since < last; {
		b, err := log.Read(ctx, since, limit)
		if err != nil {
			t.Fatalf("%s: read changelog since %d, limit %d: %v", c.where(), since, limit, err)
		}
		if b.Through <= since || b.Through > last {
			t.Fatalf("%s: read since %d, limit %d: got through %d, want in (%d, %d]", c.where(), since, limit, b.Through, since, last)
		}
		out = append(out, b)
		since = b.Through
	}
	return out
}

// checkReplay applies the batches, as a peer would, to a copy of the rows
// before and compares the result with the rows after: an insert sets the
// whole row, an update sets its columns of a row that must exist (a page
// may end anywhere, so every prefix of the changelog must be a history a
// peer can apply; see TestKeyChangeLogOrder), a delete removes the row if
// it is there.
func (c *corpusRun) checkReplay(t *testing.T, how string, before, after snapshot, batches []*changelog.Batch) {
	t.Helper()
	errs := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if errs++; errs <= 20 {
			t.Errorf("%s, replay %s: "+format, append([]any{c.where(), how}, args...)...)
		}
	}
	model := map[string]map[string]row{}
	for name, rows := range before {
		model[name] = maps.Clone(rows)
	}
	infos := map[string]*tableInfo{}
	for _, ti := range c.tables {
		infos[ti.Name] = ti
	}
	for _, b := range batches {
		for _, ch := range b.Changes {
			ti, rows := infos[ch.Table], model[ch.Table]
			if ti == nil {
				fail("change of untracked table %q", ch.Table)
				continue
			}
			k := encode(ch.Key)
			switch ch.Op {
			case change.Insert:
				if len(ch.Values) != len(ti.cols) {
					fail("table %q key %s: insert has %d values, want %d", ch.Table, fmtValues(ch.Key), len(ch.Values), len(ti.cols))
					continue
				}
				rows[k] = row{key: ch.Key, vals: ch.Values}
			case change.Update:
				r, ok := rows[k]
				if !ok {
					fail("table %q key %s: got %s of a row the peer does not have", ch.Table, fmtValues(ch.Key), fmtChange(ch))
					continue
				}
				vals := slices.Clone(r.vals)
				for i, name := range ch.Columns {
					j := slices.IndexFunc(ti.cols, func(col colInfo) bool { return col.Name == name })
					if j < 0 || i >= len(ch.Values) {
						fail("table %q key %s: %s names unknown column %q", ch.Table, fmtValues(ch.Key), fmtChange(ch), name)
						continue
					}
					vals[j] = ch.Values[i]
				}
				rows[k] = row{key: r.key, vals: vals}
			case change.Delete:
				delete(rows, k)
			default:
				fail("table %q key %s: op %v", ch.Table, fmtValues(ch.Key), ch.Op)
			}
		}
	}
	for _, ti := range c.tables {
		got, want := model[ti.Name], after[ti.Name]
		for _, k := range sortedKeys(want) {
			g, ok := got[k]
			switch {
			case !ok:
				fail("table %q key %s: got no row, want %s", ti.Name, fmtValues(want[k].key), fmtValues(want[k].vals))
			case !equalValues(g.vals, want[k].vals):
				fail("table %q key %s: got %s, want %s", ti.Name, fmtValues(want[k].key), fmtValues(g.vals), fmtValues(want[k].vals))
			}
		}
		for _, k := range sortedKeys(got) {
			if _, ok := want[k]; !ok {
				fail("table %q key %s: got row %s, want none", ti.Name, fmtValues(got[k].key), fmtValues(got[k].vals))
			}
		}
	}
	if errs > 20 {
		t.Errorf("%s, replay %s: %d more errors", c.where(), how, errs-20)
	}
}

// checkValues checks an insert's or update's columns and values against the
// row as the table holds it.
func (c *corpusRun) checkValues(fail func(string, ...any), table, key string, ch changelog.Change, writable []string, row []any) {
	if len(ch.Columns) != len(ch.Values) {
		fail("table %q key %s: %s has %d columns and %d values", table, key, fmtChange(ch), len(ch.Columns), len(ch.Values))
		return
	}
	if ch.Op == change.Insert && !equalStrings(ch.Columns, writable) {
		fail("table %q key %s: insert got columns %q, want %q", table, key, ch.Columns, writable)
		return
	}
	for i, name := range ch.Columns {
		j := indexOf(writable, name)
		if j < 0 {
			fail("table %q key %s: %s names column %q, which is not writable", table, key, fmtChange(ch), name)
			continue
		}
		if !sameValue(ch.Values[i], row[j]) {
			fail("table %q key %s column %q: got %s, want %s", table, key, name, fmtValue(ch.Values[i]), fmtValue(row[j]))
		}
	}
}

// report logs what the workload did and checks that it did something.
func (c *corpusRun) report(t *testing.T, phase string, stmts []stmt, failed map[int]string, st captureStats) {
	t.Helper()
	reasons := map[string]int{}
	okByKind := map[string]int{}
	for i, s := range stmts {
		if msg, bad := failed[i]; bad {
			if *verboseFlag {
				t.Logf("%s %s: failed: %s: %s", c.name, phase, strings.Join(s.sql, "; "), msg)
			}
			reasons[shortReason(msg)]++
		} else {
			okByKind[s.kind]++
		}
	}
	var rs []string
	for _, r := range sortedKeys(reasons) {
		rs = append(rs, fmt.Sprintf("%d× %s", reasons[r], r))
	}
	sort.Slice(rs, func(i, j int) bool { return countOf(rs[i]) > countOf(rs[j]) })
	changedTables := 0
	var untouched []string
	sum := func(m map[string]int) (n int) {
		for _, v := range m {
			n += v
		}
		return n
	}
	for _, ti := range c.tables {
		if st.inserted[ti.Name]+st.updated[ti.Name]+st.deleted[ti.Name] > 0 {
			changedTables++
		} else {
			untouched = append(untouched, ti.Name)
		}
	}
	t.Logf("%s %s: %d statements, %d ok (%d insert, %d update, %d key update, %d upsert, %d delete, %d rolled back), %d failed; rows %d inserted, %d updated, %d deleted, %d inserted+deleted; %d/%d tables changed",
		c.name, phase, len(stmts), len(stmts)-len(failed), okByKind["insert"], okByKind["update"], okByKind["key update"],
		okByKind["upsert"], okByKind["delete"], okByKind["rolled back"], len(failed),
		sum(st.inserted), sum(st.updated), sum(st.deleted), st.transient, changedTables, len(c.tables))
	if len(rs) > 0 {
		t.Logf("%s %s: failures: %s", c.name, phase, strings.Join(rs[:min(len(rs), 8)], "; "))
	}
	if len(untouched) > 0 {
		t.Logf("%s %s: tables not changed: %s", c.name, phase, strings.Join(untouched, ", "))
	}
	c.stats.tables = len(c.tables)
	c.stats.statements += len(stmts)
	c.stats.failed += len(failed)
	c.stats.keyUpdates += okByKind["key update"]
	c.stats.inserted += sum(st.inserted)
	c.stats.updated += sum(st.updated)
	c.stats.deleted += sum(st.deleted)
	if c.stats.changed == nil {
		c.stats.changed = map[string]bool{}
	}
	for _, ti := range c.tables {
		if st.inserted[ti.Name]+st.updated[ti.Name]+st.deleted[ti.Name] > 0 {
			c.stats.changed[ti.Name] = true
		}
	}
}

// runStats sums up what the workload of one corpus did.
type runStats struct {
	tables, statements, failed             int
	inserted, updated, deleted, keyUpdates int
	changed                                map[string]bool // tables with a row changed in some phase
}

var digitsRe = regexp.MustCompile(`\s*\(\d+\)$`)

func shortReason(msg string) string {
	msg = digitsRe.ReplaceAllString(msg, "")
	if i := strings.Index(msg, " constraint failed"); i >= 0 {
		return msg[:i+len(" constraint failed")]
	}
	if len(msg) > 70 {
		msg = msg[:70] + "…"
	}
	return msg
}

func countOf(s string) int {
	n, _ := strconv.Atoi(s[:strings.Index(s, "×")])
	return n
}

// ---------------------------------------------------------------------------
// values

// encode turns values into a map key that distinguishes storage classes and
// keeps every byte.
func encode(vals []any) string { return string(changelog.KeyBytes(vals)) }

// sameValue compares by storage class and bytes; floats bit for bit.
func sameValue(a, b any) bool { return encode([]any{a}) == encode([]any{b}) }

func equalValues(a, b []any) bool { return encode(a) == encode(b) }

func fmtValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return fmt.Sprintf("int %d", v)
	case float64:
		return fmt.Sprintf("real %v (%#x)", v, math.Float64bits(v))
	case string:
		return fmt.Sprintf("text %.80q", v)
	case []byte:
		if len(v) > 32 {
			return fmt.Sprintf("blob x'%x…' (%d bytes)", v[:32], len(v))
		}
		return fmt.Sprintf("blob x'%x'", v)
	}
	return fmt.Sprintf("%T %v", v, v)
}

func fmtValues(vals []any) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = fmtValue(v)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func fmtChange(ch changelog.Change) string {
	s := ch.Op.String()
	for i, name := range ch.Columns {
		if i < len(ch.Values) {
			s += fmt.Sprintf(" %s=%s", name, fmtValue(ch.Values[i]))
		}
	}
	return s
}

// ---------------------------------------------------------------------------
// small helpers

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func trackedNames(rep *triggers.Report) []string {
	var out []string
	for _, tr := range rep.Tracked {
		out = append(out, tr.Name)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}

func unquote(s string) string {
	if len(s) >= 2 && strings.ContainsRune(`"[`+"`", rune(s[0])) {
		return s[1 : len(s)-1]
	}
	return s
}

// diffLines fails with the lines missing from got and the lines extra in it.
func diffLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, l := range want {
		count[l]++
	}
	for _, l := range got {
		count[l]--
	}
	var missing, extra []string
	for _, l := range sortedKeys(count) {
		for n := count[l]; n > 0; n-- {
			missing = append(missing, l)
		}
		for n := count[l]; n < 0; n++ {
			extra = append(extra, l)
		}
	}
	if len(missing)+len(extra) == 0 {
		return
	}
	show := func(ls []string) string {
		if len(ls) > 10 {
			return fmt.Sprintf("%.300q … (%d in all)", ls[:10], len(ls))
		}
		return fmt.Sprintf("%.300q", ls)
	}
	t.Errorf("%s: got %d lines, want %d; missing %s; extra %s", what, len(got), len(want), show(missing), show(extra))
}

// TestNullPrimaryKey checks what happens to rows whose declared primary
// key is NULL. SQLite allows that in a rowid table that is not STRICT,
// unless the key column is declared NOT NULL ("a long-standing coding
// oversight", https://sqlite.org/lang_createtable.html#the_primary_key), and
// 58 tables of the corpus have such a key: northwind's Customers
// (CustomerID TEXT, PRIMARY KEY (CustomerID)) is one. A NULL key names no
// row, so such rows are not captured and init warns; but a row that exists
// must never be reported deleted, and a key set to or from NULL is the
// delete of the old key or the insert of the new one.
func TestNullPrimaryKey(t *testing.T) {
	ctx := context.Background()
	path := dbtest.Corpus(t, "northwind")["northwind"]
	db := dbtest.MustOpenDB(t, path)
	rep, err := triggers.Install(ctx, db, schema.Filter{})
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	i := slices.IndexFunc(rep.Tracked, func(tr triggers.TableResult) bool { return tr.Name == "Customers" })
	if i < 0 {
		t.Fatalf("Customers: got not tracked, want tracked")
	}
	if w := strings.Join(rep.Tracked[i].Warnings(), " "); !strings.Contains(w, "NULL") {
		t.Errorf("warnings of Customers: got %q, want one about NULL keys", w)
	}
	dbtest.Shell(t, path, `INSERT INTO Customers (CustomerID, CompanyName) VALUES (NULL, 'No Id Ltd');
INSERT INTO Customers (CustomerID, CompanyName) VALUES (NULL, 'No Id Either');
UPDATE Customers SET City = 'Oslo' WHERE CustomerID IS NULL;
UPDATE Customers SET CustomerID = NULL WHERE CustomerID = 'ANATR';
UPDATE Customers SET CustomerID = 'NEWID' WHERE CompanyName = 'No Id Ltd';`)
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM Customers WHERE CustomerID IS NULL`); err != nil || n != 2 {
		t.Fatalf("rows with a NULL CustomerID: got %d (%v), want 2", n, err)
	}
	b, err := changelog.New(db).Read(ctx, 0, 0)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var got []string
	for _, ch := range b.Changes {
		got = append(got, fmt.Sprintf("%s %s %s", ch.Table, ch.Op, fmtValues(ch.Key)))
	}
	want := []string{"Customers delete [text \"ANATR\"]", "Customers insert [text \"NEWID\"]"}
	if !slices.Equal(got, want) {
		t.Errorf("changes: got %q, want %q", got, want)
	}
}

// TestKeyChangeLogOrder checks the order in which one UPDATE that changes
// a row's key and another column is logged: the delete of the old key and
// the insert of the new one must come before the update of the new key's
// column. A read with a limit can end between any two changelog rows, and a
// peer cannot apply an update of a row it does not have yet: every prefix
// of the changelog must be a history a peer can apply. SQLite runs the
// triggers of one event newest first, so the order depends on the order in
// which install created them, also when a later init adds the trigger of a
// column the app added.
func TestKeyChangeLogOrder(t *testing.T) {
	for _, tc := range []struct {
		name, migrate, update string
	}{
		{"fresh install", "",
			`UPDATE Album SET AlbumId = 999999, Title = 'Renumbered' WHERE AlbumId = 1;`},
		{"column added, init again", `ALTER TABLE Album ADD COLUMN Note TEXT;`,
			`UPDATE Album SET AlbumId = 999999, Note = 'Renumbered' WHERE AlbumId = 1;`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := dbtest.Corpus(t, "chinook")["chinook"]
			db := dbtest.MustOpenDB(t, path)
			if _, err := triggers.Install(ctx, db, schema.Filter{}); err != nil {
				t.Fatalf("install: %v", err)
			}
			if tc.migrate != "" {
				dbtest.Shell(t, path, tc.migrate)
				if _, err := triggers.Install(ctx, db, schema.Filter{}); err != nil {
					t.Fatalf("install after %s: %v", tc.migrate, err)
				}
			}
			dbtest.Shell(t, path, tc.update)
			got := readOneByOne(t, changelog.New(db))
			want := []string{"Album delete [int 1]", "Album insert [int 999999]"}
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Errorf("changes read one changelog row at a time: got %q, want them to include %q", got, w)
				}
			}
			// An update of the new key is harmless after its insert.
			for i, g := range got {
				if g == "Album update [int 999999]" && !slices.Contains(got[:i], "Album insert [int 999999]") {
					t.Errorf("changes read one changelog row at a time: got %q, want the insert of [int 999999] before any update of it", got)
					break
				}
			}
		})
	}
}

// readOneByOne reads the whole changelog one row at a time and returns
// each change as "table op key".
func readOneByOne(t *testing.T, log *changelog.Log) []string {
	t.Helper()
	ctx := context.Background()
	last, err := log.LastVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for since := change.Version(0); since < last; {
		b, err := log.Read(ctx, since, 1)
		if err != nil {
			t.Fatalf("read since %d, limit 1: %v", since, err)
		}
		if b.Through <= since {
			t.Fatalf("read since %d, limit 1: got through %d, want more than %d", since, b.Through, since)
		}
		for _, ch := range b.Changes {
			got = append(got, fmt.Sprintf("%s %s %s", ch.Table, ch.Op, fmtValues(ch.Key)))
		}
		since = b.Through
	}
	return got
}
