package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/replicator"
)

// tenantHub is a hub over HTTP with two tenants: token "app" may sync only
// the database app, token "evil" only evil. app holds a secret row.
type tenantHub struct {
	url, dir string
	tokens   map[string]string
}

func newTenantHub(t *testing.T) *tenantHub {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hub")
	st := hub.NewStore(dir)
	st.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Cleanup(func() { st.Close() })
	srv := hub.NewServer(st)
	srv.Logger = st.Logger
	th := &tenantHub{dir: dir, tokens: map[string]string{}}
	var lines []string
	for _, name := range []string{"app", "evil"} {
		token, line, err := hub.NewToken([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		th.tokens[name] = token
		lines = append(lines, line)
	}
	tokens, err := hub.ParseTokens(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	srv.Tokens = tokens
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	th.url = ts.URL

	s, path, _ := newSyncer(t, hub.NewClient(ts.URL, th.tokens["app"]), notesDDL)
	s.Name = "app"
	insertNotes(t, path, "secret-", 3)
	if _, err := s.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	return th
}

// files lists the hub's data directory and the test's temporary directory
// around it, where an attack could try to write.
func (th *tenantHub) files(t *testing.T) []string {
	t.Helper()
	var names []string
	root := filepath.Dir(th.dir)
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(path, "-shm") && !strings.HasSuffix(path, "-wal") {
			names = append(names, strings.TrimPrefix(path, root))
		}
		return nil
	})
	return names
}

// appRows is what a device of app pulls from the hub, from the start.
func (th *tenantHub) appRows(t *testing.T) []byte {
	t.Helper()
	frame, err := hub.NewClient(th.url, th.tokens["app"]).Pull(context.Background(), "app", hub.PullRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return frame
}

func (th *tenantHub) putSchema(t *testing.T, db string, doc *replicator.SchemaDoc) (int, string) {
	t.Helper()
	body, _ := json.Marshal(doc)
	req, _ := http.NewRequest(http.MethodPut, th.url+"/v1/"+db+"/schema", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+th.tokens["evil"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("put schema: %v", err) // not Fatal: uploads run in goroutines too
		return 0, ""
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

// TestSchemaUploadAttacks sends, with a token allowed only the database
// evil, schemas that try to reach another tenant's replica, write files,
// plant triggers or run long. Each is refused with a 4xx that names what
// was wrong, creates no file, and leaves the other tenant's rows as they
// were and out of every response.
func TestSchemaUploadAttacks(t *testing.T) {
	th := newTenantHub(t)
	honest := schemaDoc(t, notesDDL)
	appFile := filepath.Join(th.dir, "app.db")
	stolen := filepath.Join(filepath.Dir(th.dir), "stolen.db")
	with := func(extra ...string) []string { return append(slices.Clone(honest.Statements), extra...) }
	cases := []struct {
		name       string
		statements []string
		want       string // in the error message
	}{
		{"attach another tenant", with(`ATTACH '` + appFile + `' AS v`), "not CREATE TABLE"},
		{"attach after a create", []string{`CREATE TABLE x (a); ATTACH '` + appFile + `' AS v`}, "not stored as its statement says"},
		{"update through attach", []string{`CREATE TABLE x (a); ATTACH '` + appFile + `' AS v; UPDATE v.notes SET body = 'owned'`}, "not stored as its statement says"},
		{"exfiltrate in an error", []string{`CREATE TABLE x AS SELECT * FROM pragma_database_list`}, "SELECT"},
		{"exfiltrate through attach name", []string{`CREATE TABLE x (a DEFAULT ('no/such/' || (SELECT 1)))`}, "is not constant"},
		{"vacuum into", []string{`CREATE TABLE x (a); VACUUM INTO '` + stolen + `'`}, "not stored as its statement says"},
		{"trigger", with(`CREATE TRIGGER rewrite AFTER INSERT ON notes BEGIN UPDATE notes SET body = 'x'; END`), "not CREATE TABLE"},
		{"trigger behind a create", []string{notesDDL[:len(notesDDL)-1] + `; CREATE TRIGGER rewrite AFTER INSERT ON notes BEGIN UPDATE notes SET body = 'x'; END`}, "not stored as its statement says"},
		{"view", with(`CREATE VIEW v AS SELECT * FROM notes`), "not CREATE TABLE"},
		{"temp table", []string{`CREATE TABLE temp.x (a)`}, "not allowed"},
		{"pragma", with(`PRAGMA writable_schema = 1`), "not CREATE TABLE"},
		{"internal table", []string{`CREATE TABLE _sync_state (key TEXT PRIMARY KEY, value)`}, "CREATE TABLE _sync_state"},
		// The hub's own index of that name would fail to install.
		{"index with an internal name", with(`CREATE INDEX _sync_conflicts_notice ON notes (body)`), "CREATE INDEX _sync_conflicts_notice on notes (a reserved name)"},
		{"index with SQLite's name", with(`CREATE INDEX sqlite_autoindex_notes_2 ON notes (body)`), "reserved"},
		{"extension in a generated column", []string{`CREATE TABLE x (a, b AS (load_extension('/tmp/x.so')))`}, "function load_extension"},
		{"recursive query", []string{`CREATE TABLE x AS WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT count(*) FROM c`}, "function count"},
		{"not as stored", []string{`create table if not exists notes (id TEXT PRIMARY KEY, body TEXT)`}, "not CREATE TABLE"},
		{"nothing", nil, "statements"},
	}
	before, rows := th.files(t), th.appRows(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := &replicator.SchemaDoc{Fingerprint: honest.Fingerprint, Statements: tc.statements}
			status, body := th.putSchema(t, "evil", doc)
			if status/100 != 4 || !strings.Contains(body, tc.want) {
				t.Errorf("got %d %s, want a 4xx saying %q", status, body, tc.want)
			}
			if strings.Contains(body, "secret") || strings.Contains(body, th.dir) || strings.Contains(body, "migrat") {
				t.Errorf("the answer carries another tenant's rows, a server path or the hub's own SQL: %s", body)
			}
			if got := th.files(t); !slices.Equal(got, before) {
				t.Errorf("files changed: %v, was %v", got, before)
			}
			if got := th.appRows(t); !bytes.Equal(got, rows) {
				t.Error("the other tenant's rows changed")
			}
		})
	}
}

// TestSchemaFingerprintCoversEverything: statements that build something
// else than the fingerprint says (an extra index that would refuse rows the
// devices accept, another table) are refused and leave nothing behind. So
// is a table the fingerprint cannot cover because deltasync does not track
// it, which would otherwise ride along with the honest fingerprint.
func TestSchemaFingerprintCoversEverything(t *testing.T) {
	th := newTenantHub(t)
	honest := schemaDoc(t, notesDDL)
	before := th.files(t)
	for _, tc := range []struct {
		name   string
		extra  []string
		status int
	}{
		{"unique index", []string{`CREATE UNIQUE INDEX notes_body ON notes (body)`}, http.StatusConflict},
		{"extra table", []string{`CREATE TABLE more (id INTEGER PRIMARY KEY)`}, http.StatusConflict},
		{"table whose columns hide the rowid", []string{`CREATE TABLE u (rowid, oid, _rowid_)`}, http.StatusUnprocessableEntity},
		{"key too wide to track", []string{`CREATE TABLE w (a, b, c, d, e, PRIMARY KEY (a, b, c, d, e)) WITHOUT ROWID`}, http.StatusUnprocessableEntity},
		{"index on an untracked table", []string{`CREATE TABLE u (rowid, oid, _rowid_)`, `CREATE UNIQUE INDEX u_oid ON u (oid)`}, http.StatusUnprocessableEntity},
	} {
		doc := &replicator.SchemaDoc{Fingerprint: honest.Fingerprint, Statements: append(slices.Clone(honest.Statements), tc.extra...)}
		status, body := th.putSchema(t, "evil", doc)
		if status != tc.status || !strings.Contains(body, "fingerprint") {
			t.Errorf("%s: got %d %s, want %d naming the fingerprint", tc.name, status, body, tc.status)
		}
	}
	if got := th.files(t); !slices.Equal(got, before) {
		t.Errorf("files changed: %v, was %v", got, before)
	}
	if status, body := th.putSchema(t, "evil", honest); status != http.StatusOK {
		t.Errorf("the honest schema: got %d %s, want 200", status, body)
	}
	if status, body := th.putSchema(t, "app", honest); status != http.StatusForbidden {
		t.Errorf("another tenant's name: got %d %s, want 403", status, body)
	}
}

// TestSlowSchemaDoesNotStallOthers: uploads of a schema that outlasts the
// hub's time limit for checking and building one are answered 503 "busy"
// (the hub's limit, not the schema's fault: it may pass later), leave no
// file, and do not stall the devices of another database, however many
// arrive at once. The limit is set so short that every build outlasts it,
// so that the test does not depend on the machine's speed.
func TestSlowSchemaDoesNotStallOthers(t *testing.T) {
	th := newTenantHub(t)
	big := schemaDoc(t, notesDDL)
	before := th.files(t)
	restore := hub.SetSchemaBuildTimeout(time.Microsecond)
	var wg sync.WaitGroup
	for range 6 { // more at once than the hub builds
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if status, body := th.putSchema(t, "evil", big); status != http.StatusServiceUnavailable || !strings.Contains(body, `"busy"`) {
					t.Errorf("a schema over the time limit: got %d %s, want 503 busy", status, body)
				}
			}
		}()
	}
	s, path, _ := newSyncer(t, hub.NewClient(th.url, th.tokens["app"]), notesDDL)
	s.Name = "app"
	for i := range 5 {
		insertNotes(t, path, "n"+string(rune('a'+i)), 1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := s.SyncOnce(ctx)
		cancel()
		if err != nil {
			t.Errorf("sync %d of another database while schemas upload: %v", i, err)
		}
	}
	wg.Wait()
	restore()
	if got := th.files(t); !slices.Equal(got, before) {
		t.Errorf("files changed: %v, was %v", got, before)
	}
	if status, body := th.putSchema(t, "evil", big); status != http.StatusOK {
		t.Errorf("the same schema within the limit: got %d %s, want 200", status, body)
	}
}
