package main_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/deltasync/internal/dbtest"
)

// syncAll runs sync --once on each database in turn.
func syncAll(t *testing.T, h *hubProcess, paths ...string) {
	t.Helper()
	for _, p := range paths {
		syncOnce(t, h, p)
	}
}

// assertOnAll checks that sql gives want on every database.
func assertOnAll(t *testing.T, sql, want, what string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if got := query(t, p, sql); got != want {
			t.Errorf("%s on %s is %q, want %q", what, filepath.Base(p), got, want)
		}
	}
}

// assertUsage checks a mistake in the command line: exit 2, one line on
// stderr naming the problem, nothing on stdout.
func assertUsage(t *testing.T, r result, want string) {
	t.Helper()
	assertOneError(t, r, 2, want)
}

const syncTablesSQL = `SELECT count(*) FROM sqlite_schema WHERE name LIKE '\_sync%' ESCAPE '\';`

func TestInitPolicy(t *testing.T) {
	path := dbtest.NewDB(t, appDDL)
	r := mustRun(t, "init", path, "--policy", "notes=lww-row", "--policy", "tags=manual")
	for _, want := range []string{
		"tracked  notes  keyed by id (integer primary key); 5 triggers installed; policy lww-row\n",
		"tracked  tags  keyed by name (primary key, without rowid); 4 triggers installed; policy manual\n",
		"tracked  log  keyed by rowid (no primary key); 3 triggers installed; policy lww-column\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("init output lacks %q:\n%s", want, r.stdout)
		}
	}
	// Without --policy, init keeps the stored policies.
	r = mustRun(t, "init", path)
	for _, want := range []string{"notes  keyed by id (integer primary key); unchanged; policy lww-row\n", "; unchanged; policy manual\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("second init output lacks %q:\n%s", want, r.stdout)
		}
	}
	// A new --policy changes that table only, and says what it was.
	r = mustRun(t, "init", path, "--policy", "notes=manual")
	if !strings.Contains(r.stdout, "notes  keyed by id (integer primary key); unchanged; policy manual (was lww-row)\n") ||
		!strings.Contains(r.stdout, "tags  keyed by name (primary key, without rowid); unchanged; policy manual\n") {
		t.Errorf("init --policy notes=manual:\n%s", r.stdout)
	}
	if got := query(t, path, `SELECT group_concat(name || '=' || policy, ' ') FROM (SELECT * FROM _sync_tables ORDER BY name);`); got != "log=lww-column notes=manual tags=manual" {
		t.Errorf("stored policies: %s", got)
	}
}

func TestInitPolicyBadInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		error string
	}{
		{"no =", []string{"--policy", "notes"}, 2, "want TABLE=POLICY"},
		{"no table", []string{"--policy", "=manual"}, 2, "want TABLE=POLICY"},
		{"unknown policy", []string{"--policy", "notes=newest"}, 2, `unknown conflict policy "newest": use lww-column, lww-row or manual`},
		{"two policies for a table", []string{"--policy", "notes=manual", "--policy", "notes=lww-row"}, 2, "two policies for table notes"},
		{"table that does not exist", []string{"--policy", "nope=manual"}, 1, `policy of "nope": the table is not tracked`},
		{"virtual table", []string{"--policy", "search=manual"}, 1, `policy of "search": the table is not tracked`},
		{"table left out by --only", []string{"--only", "notes", "--policy", "tags=manual"}, 1, `policy of "tags": the table is not tracked`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// On a database without deltasync: nothing is created.
			path := dbtest.NewDB(t, appDDL)
			before := fileBytes(t, path)
			r := run(t, append([]string{"init", path}, tc.args...)...)
			if tc.code == 2 {
				assertUsage(t, r, tc.error)
			} else {
				assertRefused(t, r, tc.error)
			}
			if fileBytes(t, path) != before {
				t.Error("the file changed")
			}
			if n := query(t, path, syncTablesSQL); n != "0" {
				t.Errorf("%s deltasync tables created", n)
			}
			// On an installed database: the stored policies stay.
			mustRun(t, "init", path, "--policy", "notes=lww-row")
			r = run(t, append([]string{"init", path}, tc.args...)...)
			if r.code != tc.code {
				t.Errorf("on an installed database: exit %d, want %d", r.code, tc.code)
			}
			if got := query(t, path, `SELECT policy FROM _sync_tables WHERE name = 'notes';`); got != "lww-row" {
				t.Errorf("policy of notes after a refused init: %s", got)
			}
		})
	}
}

// TestConflictsBadInput covers the conflicts commands on a database that has
// no conflict, and every mistake that can be made without one.
func TestConflictsBadInput(t *testing.T) {
	path := dbtest.NewDB(t, appDDL)
	uninstalled := dbtest.NewDB(t, appDDL)
	mustRun(t, "init", path)
	before := fileBytes(t, path)

	r := mustRun(t, "conflicts", path)
	if r.stdout != "" || strings.TrimSpace(r.stderr) != "no conflicts" {
		t.Errorf("conflicts with none: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if r := mustRun(t, "conflicts", path, "--json", "--table", "notes"); r.stdout != "" {
		t.Errorf("conflicts --json with none: %q", r.stdout)
	}
	if out := mustRun(t, "status", path).stdout; !strings.Contains(out, "conflicts:       0 unresolved\n") {
		t.Errorf("status:\n%s", out)
	}
	var st struct {
		Conflicts *int `json:"unresolved_conflicts"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "status", path, "--json").stdout), &st); err != nil || st.Conflicts == nil || *st.Conflicts != 0 {
		t.Errorf("status --json: %v, unresolved_conflicts %v", err, st.Conflicts)
	}
	if r := mustRun(t, "conflicts", "clear", path); r.stdout != "deleted 0 conflicts\n" {
		t.Errorf("conflicts clear with none: %q", r.stdout)
	}

	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		error string
	}{
		{"unknown id", []string{"resolve", path, "7", "--keep", "local"}, 1, "no such conflict 7: `deltasync conflicts " + path + "` lists them"},
		{"unknown id with a value", []string{"resolve", path, "7", "--keep", `value="x"`}, 1, "no such conflict 7"},
		{"id not a number", []string{"resolve", path, "seven", "--keep", "local"}, 2, `ID "seven" is not a conflict id`},
		{"id missing", []string{"resolve", path, "--keep", "local"}, 2, "usage: deltasync conflicts resolve DB ID"},
		{"no --keep", []string{"resolve", path, "1"}, 2, "--keep: required: local, remote or value=JSON"},
		{"unknown side", []string{"resolve", path, "1", "--keep", "mine"}, 2, `--keep: "mine": use local, remote or value=JSON`},
		{"bad JSON", []string{"resolve", path, "1", "--keep", `value={"title": }`}, 2, `value={"title": } is not JSON`},
		{"empty JSON", []string{"resolve", path, "1", "--keep", "value="}, 2, "is not JSON"},
		{"two JSON values", []string{"resolve", path, "1", "--keep", `value="a" "b"`}, 2, "more than one JSON value"},
		{"a boolean", []string{"resolve", path, "1", "--keep", `value={"flag": true}`}, 2, `value of column "flag": true: SQLite has no booleans`},
		{"an array", []string{"resolve", path, "1", "--keep", "value=[1, 2]"}, 2, "an array is not a value"},
		{"a bad typed value", []string{"resolve", path, "1", "--keep", `value={"integer": "1.5"}`}, 2, `{"integer": "1.5"}: not a 64-bit integer`},
		{"bad hex", []string{"resolve", path, "1", "--keep", `value={"body": {"blob_hex": "0g"}}`}, 2, `value of column "body": {"blob_hex": "0g"}: not hex`},
		{"a number too large", []string{"resolve", path, "1", "--keep", "value=1e999"}, 2, "number 1e999 does not fit a REAL"},
		{"bad --before", []string{"clear", path, "--before", "last week"}, 2, `--before: "last week": use RFC 3339`},
		{"list on a database without deltasync", []string{uninstalled}, 1, "run `deltasync init` on it first"},
		{"resolve on a database without deltasync", []string{"resolve", uninstalled, "1", "--keep", "local"}, 1, "run `deltasync init` on it first"},
		{"clear on a database without deltasync", []string{"clear", uninstalled}, 1, "run `deltasync init` on it first"},
		{"list on a missing file", []string{filepath.Join(t.TempDir(), "missing.db")}, 1, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append([]string{"conflicts"}, tc.args...)...)
			if tc.code == 2 {
				assertUsage(t, r, tc.error)
			} else {
				assertRefused(t, r, tc.error)
			}
		})
	}
	if fileBytes(t, path) != before {
		t.Error("a refused command changed the database")
	}
	if n := query(t, uninstalled, syncTablesSQL); n != "0" {
		t.Errorf("%s deltasync tables created in a database without deltasync", n)
	}
}

// waitHub polls a hub's /healthz until it answers.
func waitHub(t *testing.T, url string) {
	t.Helper()
	eventually(t, 20*time.Second, "hub at "+url+" answers", func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// jsonConflict is what `deltasync conflicts --json` prints per conflict.
type jsonConflict struct {
	ID         int64            `json:"id"`
	Table      string           `json:"table"`
	Key        []map[string]any `json:"key"`
	Kind       string           `json:"kind"`
	Resolved   bool             `json:"resolved"`
	Resolution string           `json:"resolution"`
	Columns    []struct {
		Column string `json:"column"`
		Lost   struct {
			Value map[string]any `json:"value"`
			Local bool           `json:"local"`
			Site  string         `json:"site"`
		} `json:"lost"`
		Won struct {
			Value map[string]any `json:"value"`
			Local bool           `json:"local"`
			Site  string         `json:"site"`
		} `json:"won"`
	} `json:"columns"`
}

func conflictsJSON(t *testing.T, path string) map[string]jsonConflict {
	t.Helper()
	out := map[string]jsonConflict{}
	for _, c := range conflictsJSONList(t, path) {
		out[c.Key[0]["text"].(string)] = c
	}
	return out
}

// conflictsJSONList returns what `conflicts --json` prints for path, in order.
func conflictsJSONList(t *testing.T, path string) []jsonConflict {
	t.Helper()
	var out []jsonConflict
	for _, line := range strings.Split(strings.TrimSpace(mustRun(t, "conflicts", path, "--json").stdout), "\n") {
		if line == "" {
			continue
		}
		var c jsonConflict
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("conflicts --json line %q: %v", line, err)
		}
		out = append(out, c)
	}
	return out
}

func siteOf(t *testing.T, path string) string {
	t.Helper()
	return strings.ToLower(query(t, path, `SELECT hex(value) FROM _sync_state WHERE key = 'site_id';`))
}

// offlineEdits starts a hub and two devices a and b of one shop database
// (initialised with initArgs), syncs a row 'x' and a row 'y' to both, and
// stops the hub. It returns the hub's data directory and address, to start
// it again.
func offlineEdits(t *testing.T, initArgs ...string) (a, b, data, addr string) {
	t.Helper()
	dir := t.TempDir()
	data = filepath.Join(dir, "hub")
	h := startHub(t, data)
	a, b = filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	for _, p := range []string{a, b} {
		dbtest.Shell(t, p, shopDDL)
		mustRun(t, append([]string{"init", p}, initArgs...)...)
	}
	dbtest.Shell(t, a, `INSERT INTO items VALUES ('x', 'original', 1, 1.5, NULL, NULL), ('y', 'original y', 2, 2.5, NULL, NULL);`)
	syncOnce(t, h, a)
	syncOnce(t, h, b)
	assertAllEqual(t, a, b)
	// The hub becomes unreachable: a device's sync fails, its edits wait.
	addr = strings.TrimPrefix(h.url, "http://")
	h.kill()
	if r := run(t, "sync", a, "--hub", h.url, "--name", "shop", "--once"); r.code != 1 {
		t.Fatalf("sync with the hub down: exit %d, want 1\n%s", r.code, r.stderr)
	}
	return a, b, data, addr
}

// TestConflictsEndToEnd: two devices edit one row while the hub is
// unreachable; after sync, `deltasync conflicts` on the device whose write
// lost prints both values, and `resolve --keep local` brings the local
// value back on every node.
func TestConflictsEndToEnd(t *testing.T) {
	a, b, data, addr := offlineEdits(t)
	siteA, siteB := siteOf(t, a), siteOf(t, b)

	// Same column of x on both; title and qty of y on both. HLCs are wall-clock
	// milliseconds: b writes after a, so b wins under lww-column.
	dbtest.Shell(t, a, `UPDATE items SET title = 'from a' WHERE id = 'x'; UPDATE items SET title = 'a''s y', qty = 10 WHERE id = 'y';`)
	nextMillisecond() // two writes in one millisecond would tie on the clock; the site id would decide
	dbtest.Shell(t, b, `UPDATE items SET title = 'from b' WHERE id = 'x'; UPDATE items SET title = 'b''s y', qty = 20 WHERE id = 'y';`)

	h := startHubAt(t, data, addr)
	waitHub(t, h.url)
	syncAll(t, h, a, b, a)
	replica := filepath.Join(data, "shop.db")
	assertAllEqual(t, a, b, replica)
	if got := query(t, b, `SELECT title FROM items WHERE id = 'x';`); got != "from b" {
		t.Fatalf("before resolution, x's title is %q on b; want b's later write", got)
	}

	// a's write lost: a lists it with both values.
	out := mustRun(t, "conflicts", a).stdout
	for _, want := range []string{
		`update  "items" key ('x')  unresolved`,
		`"title"  lost  'from a'  site ` + siteA[:8] + ` (this device)  written `,
		`won   'from b'  site ` + siteB[:8] + `  written `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("conflicts on a lacks %q:\n%s", want, out)
		}
	}
	if r := mustRun(t, "conflicts", a, "--table", "tags"); r.stdout != "" {
		t.Errorf("conflicts --table tags: %q", r.stdout)
	}
	cs := conflictsJSON(t, a)
	x, y := cs["x"], cs["y"]
	if len(cs) != 2 || x.Table != "items" || x.Kind != "update" || x.Resolved || len(x.Columns) != 1 ||
		x.Columns[0].Column != "title" || x.Columns[0].Lost.Value["text"] != "from a" || !x.Columns[0].Lost.Local ||
		x.Columns[0].Won.Value["text"] != "from b" || x.Columns[0].Won.Local || x.Columns[0].Won.Site != siteB {
		t.Fatalf("conflicts --json on a: %+v", cs)
	}
	var st struct {
		Conflicts int `json:"unresolved_conflicts"`
	}
	json.Unmarshal([]byte(mustRun(t, "status", a, "--json").stdout), &st)
	if st.Conflicts != 2 {
		t.Errorf("status --json on a: %d unresolved conflicts, want 2", st.Conflicts)
	}
	if out := mustRun(t, "status", a).stdout; !strings.Contains(out, "conflicts:       2 unresolved (deltasync conflicts ") {
		t.Errorf("status on a:\n%s", out)
	}

	// Keep a's value of x: it reaches every node.
	mustRun(t, "conflicts", "resolve", a, itoa(x.ID), "--keep", "local")
	syncAll(t, h, a, b, a)
	assertOnAll(t, `SELECT title FROM items WHERE id = 'x';`, "from a", "after resolve --keep local, x's title", a, b, replica)
	assertAllEqual(t, a, b, replica)
	if c := conflictsJSON(t, a)["x"]; !c.Resolved || c.Resolution != "local" {
		t.Errorf("x after resolution: %+v", c)
	}

	// y: two columns, so a bare value or a wrong column is refused and changes nothing.
	if len(y.Columns) != 2 {
		t.Fatalf("conflict y: %+v, want title and qty", y)
	}
	yBefore := query(t, a, `SELECT title, qty FROM items WHERE id = 'y';`)
	assertRefused(t, run(t, "conflicts", "resolve", a, itoa(y.ID), "--keep", `value="one"`), `has columns "title", "qty": give an object`)
	assertRefused(t, run(t, "conflicts", "resolve", a, itoa(y.ID), "--keep", `value={"title": "t", "price": 1}`), `has no column "price"`)
	assertRefused(t, run(t, "conflicts", "resolve", a, itoa(y.ID), "--keep", `value={"title": "t"}`), `give a value for each`)
	if got := query(t, a, `SELECT title, qty FROM items WHERE id = 'y';`); got != yBefore || conflictsJSON(t, a)["y"].Resolved {
		t.Errorf("a refused resolve changed y: %q, was %q", got, yBefore)
	}
	// A value of its own, with an integer past 2^53 kept exactly.
	mustRun(t, "conflicts", "resolve", a, itoa(y.ID), "--keep", `value={"title": "merged", "qty": {"integer": "9007199254740993"}}`)
	syncAll(t, h, a, b, a)
	assertOnAll(t, `SELECT title, qty, typeof(qty) FROM items WHERE id = 'y';`, "merged|9007199254740993|integer", "after resolve with a value, y", a, b, replica)
	assertAllEqual(t, a, b, replica)

	if r := mustRun(t, "status", a).stdout; !strings.Contains(r, "conflicts:       0 unresolved\n") {
		t.Errorf("status after resolving both:\n%s", r)
	}
	if r := mustRun(t, "conflicts", "clear", a, "--before", "2000-01-01"); r.stdout != "deleted 0 conflicts\n" {
		t.Errorf("clear --before 2000-01-01: %q", r.stdout)
	}
	if r := mustRun(t, "conflicts", "clear", a, "--before", time.Now().Add(time.Hour).Format(time.RFC3339)); r.stdout != "deleted 2 conflicts\n" {
		t.Errorf("clear --before in an hour: %q", r.stdout)
	}
	if r := mustRun(t, "conflicts", a); r.stdout != "" {
		t.Errorf("conflicts after clear:\n%s", r.stdout)
	}
	if t.Failed() {
		t.Logf("hub log:\n%s", h.log)
	}
}

// TestConflictsManualEndToEnd: under manual the hub keeps the value it
// accepted first, even though the other write is later; the later writer
// records the conflict and takes the hub's value, and resolving it there is
// a new write that every node takes.
func TestConflictsManualEndToEnd(t *testing.T) {
	a, b, data, addr := offlineEdits(t, "--policy", "items=manual")
	// b writes first and syncs first; a writes later, which would win under lww.
	dbtest.Shell(t, b, `UPDATE items SET title = 'from b' WHERE id = 'x';`)
	nextMillisecond()
	dbtest.Shell(t, a, `UPDATE items SET title = 'from a' WHERE id = 'x';`)

	h := startHubAt(t, data, addr)
	waitHub(t, h.url)
	syncAll(t, h, b, a, b)
	replica := filepath.Join(data, "shop.db")
	assertOnAll(t, `SELECT title FROM items WHERE id = 'x';`, "from b", "under manual (the value the hub accepted first), x's title", a, b, replica)
	assertAllEqual(t, a, b, replica)
	if r := mustRun(t, "conflicts", b); r.stdout != "" {
		t.Errorf("b, whose write the hub accepted, has conflicts:\n%s", r.stdout)
	}
	x, ok := conflictsJSON(t, a)["x"]
	if !ok || len(x.Columns) != 1 || x.Columns[0].Lost.Value["text"] != "from a" || !x.Columns[0].Lost.Local || x.Columns[0].Won.Value["text"] != "from b" {
		t.Fatalf("conflicts on a: %+v", x)
	}
	if out := mustRun(t, "conflicts", replica).stdout; !strings.Contains(out, `lost  'from a'`) {
		t.Errorf("the hub's replica does not list the conflict:\n%s", out)
	}

	mustRun(t, "conflicts", "resolve", a, itoa(x.ID), "--keep", "local")
	syncAll(t, h, a, b, a)
	assertOnAll(t, `SELECT title FROM items WHERE id = 'x';`, "from a", "after resolve --keep local, x's title", a, b, replica)
	assertAllEqual(t, a, b, replica)
	if r := mustRun(t, "conflicts", b); r.stdout != "" {
		t.Errorf("the resolution made a conflict on b:\n%s", r.stdout)
	}
	if t.Failed() {
		t.Logf("hub log:\n%s", h.log)
	}
}

// nextMillisecond returns once the wall clock, which HLCs are made of, has
// moved on to another millisecond: a write after it orders after one before.
func nextMillisecond() {
	for start := time.Now().UnixMilli(); time.Now().UnixMilli() == start; {
		runtime.Gosched()
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
