package main_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/internal/dbtest"
)

const constraintsDDL = `CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT);
	CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT);
	CREATE TABLE tasks (id INTEGER PRIMARY KEY, project INTEGER REFERENCES projects (id) ON DELETE CASCADE, title TEXT);`

// TestConstraintsEndToEnd: writes that break a constraint across rows,
// made with the sqlite3 shell on two devices, synced with the binary and a
// hub process. Two users with one email: every sync succeeds, the later
// row is kept as a conflict of kind unique (listed, counted by status) and
// resolved with another email, after which it is on every node. A swap of
// two emails in one transaction merges. A task added to a project another
// device deleted stays, and every node records it as an orphan.
func TestConstraintsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	h := startHub(t, filepath.Join(dir, "hub"))
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	for _, p := range []string{a, b} {
		dbtest.Shell(t, p, constraintsDDL)
		mustRun(t, "init", p)
	}
	dbtest.Shell(t, a, `INSERT INTO users VALUES (1, 'ann@example.com', 'Ann'), (2, 'bob@example.com', 'Bob');
		INSERT INTO projects VALUES (1, 'garden');`)
	syncAll(t, h, a, b)
	replica := filepath.Join(dir, "hub", "shop.db")

	// The same email for two new users, one on each device.
	dbtest.Shell(t, a, `INSERT INTO users VALUES (3, 'cy@example.com', 'Cy from a');`)
	syncOnce(t, h, a)
	dbtest.Shell(t, b, `INSERT INTO users VALUES (4, 'cy@example.com', 'Cy from b');`)
	if out := syncOnce(t, h, b); !strings.Contains(out, "; 1 new conflicts (deltasync conflicts lists them); up to date") {
		t.Errorf("sync of b, whose row lost, printed %q; want it to say a conflict was recorded", out)
	}
	syncOnce(t, h, a)
	assertOnAll(t, `SELECT group_concat(id || ' ' || email, ', ') FROM users;`,
		"1 ann@example.com, 2 bob@example.com, 3 cy@example.com", "users", a, b, replica)
	assertAllEqual(t, a, b, replica)
	out := mustRun(t, "conflicts", b).stdout
	for _, want := range []string{`unique  "users" key (4)  unresolved`, `"email"  lost  'cy@example.com'`, `"name"   lost  'Cy from b'`} {
		if !strings.Contains(out, want) {
			t.Errorf("conflicts on b lacks %q:\n%s", want, out)
		}
	}
	if out := mustRun(t, "status", b).stdout; !strings.Contains(out, "conflicts:       1 unresolved") {
		t.Errorf("status on b:\n%s", out)
	}
	id := itoa(conflictsJSONByKind(t, b, "unique")[0].ID)
	assertRefused(t, run(t, "conflicts", "resolve", b, id, "--keep", "local"), "another row of \"users\" holds one of the values kept")
	mustRun(t, "conflicts", "resolve", b, id, "--keep", `value={"email": "cy.b@example.com"}`)
	syncAll(t, h, b, a)
	assertOnAll(t, `SELECT email || ' ' || name FROM users WHERE id = 4;`, "cy.b@example.com Cy from b", "user 4 after resolve", a, b, replica)
	assertAllEqual(t, a, b, replica)

	// A swap through a temporary value, in one transaction.
	dbtest.Shell(t, a, `BEGIN; UPDATE users SET email = 'tmp' WHERE id = 1; UPDATE users SET email = 'ann@example.com' WHERE id = 2;
		UPDATE users SET email = 'bob@example.com' WHERE id = 1; COMMIT;`)
	syncAll(t, h, a, b)
	assertOnAll(t, `SELECT email FROM users WHERE id = 1;`, "bob@example.com", "user 1's email after the swap", a, b, replica)
	assertAllEqual(t, a, b, replica)

	// A project deleted on a (whose app enforces keys: its tasks go too)
	// while b adds a task to it.
	dbtest.Shell(t, a, `PRAGMA foreign_keys = ON; DELETE FROM projects WHERE id = 1;`)
	dbtest.Shell(t, b, `INSERT INTO tasks VALUES (7, 1, 'weed');`)
	syncAll(t, h, a, b, a)
	assertOnAll(t, `SELECT count(*) FROM projects;`, "0", "projects", a, b, replica)
	assertOnAll(t, `SELECT id || ' ' || project FROM tasks;`, "7 1", "tasks", a, b, replica)
	for _, p := range []string{a, b, replica} {
		if got := conflictsJSONByKind(t, p, "orphan"); len(got) != 1 || got[0].Table != "tasks" || got[0].Columns[0].Column != "project" {
			t.Errorf("orphans on %s: %+v, want task 7's project", filepath.Base(p), got)
		}
	}
	if t.Failed() {
		t.Logf("hub log:\n%s", h.log)
	}
}

// conflictsJSONByKind returns the conflicts of one kind that `conflicts
// --json` prints for path.
func conflictsJSONByKind(t *testing.T, path, kind string) []jsonConflict {
	t.Helper()
	var out []jsonConflict
	for _, c := range conflictsJSONList(t, path) {
		if c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}
