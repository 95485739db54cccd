package replicator_test

import (
	"strings"
	"testing"

	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/dbtest"
)

// notesFTS is a table with an FTS5 index kept by triggers, as
// `sqlite-utils enable-fts --create-triggers` makes one.
const notesFTS = `CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT);
CREATE VIRTUAL TABLE notes_fts USING fts5(title, body, content='notes', content_rowid='id');
CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN
  INSERT INTO notes_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN
  INSERT INTO notes_fts (notes_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
END;
CREATE TRIGGER notes_au AFTER UPDATE ON notes BEGIN
  INSERT INTO notes_fts (notes_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
  INSERT INTO notes_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;`

// TestFTS5IndexSyncs: an app's FTS5 index, kept by its own triggers, stays
// right on every device as rows sync both ways: the index is not synced
// (it is not a tracked table), the replayed writes maintain it.
func TestFTS5IndexSyncs(t *testing.T) {
	h := hub.Local{Store: newStore(t)}
	a, b := newDevice(t, h, notesFTS), newDevice(t, h, notesFTS)
	a.sync(t)
	b.sync(t)
	dbtest.Shell(t, a.path, `INSERT INTO notes VALUES (1, 'groceries', 'buy milk'), (2, 'work', 'write the report');`)
	a.sync(t)
	b.sync(t)
	assertSearch(t, b, "milk", "1")
	dbtest.Shell(t, b.path, `UPDATE notes SET body = 'buy oat milk and bread' WHERE id = 1; DELETE FROM notes WHERE id = 2;`)
	b.sync(t)
	a.sync(t)
	for _, d := range []*testDevice{a, b} {
		assertSearch(t, d, "bread", "1")
		assertSearch(t, d, "report", "")
		if out := dbtest.Shell(t, d.path, `INSERT INTO notes_fts (notes_fts) VALUES ('integrity-check'); SELECT 'ok';`); strings.TrimSpace(out) != "ok" {
			t.Errorf("%s: the FTS5 index fails its integrity check: %s", d.path, out)
		}
	}
}

func assertSearch(t *testing.T, d *testDevice, word, want string) {
	t.Helper()
	got := strings.TrimSpace(dbtest.Shell(t, d.path, `SELECT group_concat(rowid) FROM notes_fts WHERE notes_fts MATCH '`+word+`';`))
	if got != want {
		t.Errorf("%s: search for %q finds %q, want %q", d.path, word, got, want)
	}
}
