package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/deltasync/internal/dbtest"
)

var binary string

// TestMain builds the deltasync binary once: these tests run it the way a user does.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "deltasync-cli")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "deltasync")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic("build deltasync: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := run(t, args...)
	if r.code != 0 {
		t.Fatalf("deltasync %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

const appDDL = `CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body BLOB);
	CREATE TABLE tags (name TEXT PRIMARY KEY, color TEXT) WITHOUT ROWID;
	CREATE TABLE log (line TEXT);
	CREATE VIRTUAL TABLE search USING fts5(title);
	INSERT INTO notes VALUES (1, 'before init', NULL);`

func TestInitStatusChangesUninstall(t *testing.T) {
	path := dbtest.NewDB(t, appDDL)
	db := dbtest.MustOpenDB(t, path)
	before := dbtest.SchemaRows(t, db)

	r := mustRun(t, "init", path)
	for _, want := range []string{
		"tracked  notes  keyed by id (integer primary key); 5 triggers installed",
		"tracked  tags  keyed by name (primary key, without rowid); 4 triggers installed",
		"tracked  log  keyed by rowid (no primary key); 3 triggers installed",
		"skipped  search: virtual table (module fts5)",
		"skipped  search_data: shadow table of virtual table search",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("init output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, want := range []string{"warning  notes: integer primary key", "warning  log: no declared primary key"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("init warnings lack %q:\n%s", want, r.stderr)
		}
	}
	if r := mustRun(t, "init", path); strings.Count(r.stdout, "; unchanged") != 3 {
		t.Errorf("second init should change nothing:\n%s", r.stdout)
	}

	dbtest.Shell(t, path, `INSERT INTO notes VALUES (2, 'it''s', x'00ff'); UPDATE notes SET title = 'edited' WHERE id = 1;
		INSERT INTO tags VALUES ('red', '#f00'); DELETE FROM tags; INSERT INTO log VALUES ('hello');`)

	var st struct {
		SiteID         string   `json:"site_id"`
		TrackedTables  []string `json:"tracked_tables"`
		PendingChanges int      `json:"pending_changes"`
		LastVersion    int      `json:"last_version"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "status", path, "--json").stdout), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.SiteID) != 32 || strings.Join(st.TrackedTables, ",") != "log,notes,tags" || st.PendingChanges != 5 || st.LastVersion != 5 {
		t.Errorf("status: %+v", st)
	}
	if out := mustRun(t, "status", path).stdout; !strings.Contains(out, "pending changes: 5") {
		t.Errorf("status:\n%s", out)
	}

	out := mustRun(t, "changes", path).stdout
	for _, want := range []string{
		`insert "notes" key (2) set "id" = 2, "title" = 'it''s', "body" = x'00ff'`,
		`update "notes" key (1) set "title" = 'edited'`,
		`delete "tags" key ('red')`,
		`insert "log" key (1) set "line" = 'hello'`,
		"# 4 changes in versions 1 to 5",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("changes output lacks %q:\n%s", want, out)
		}
	}
	if out := mustRun(t, "changes", path, "--since", "3").stdout; strings.Contains(out, `"notes"`) {
		t.Errorf("changes --since 3 shows earlier changes:\n%s", out)
	}
	var js struct {
		Changes []struct {
			Op     string           `json:"op"`
			Values []map[string]any `json:"values"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "changes", path, "--json", "--limit", "1").stdout), &js); err != nil {
		t.Fatal(err)
	}
	if len(js.Changes) != 1 || js.Changes[0].Values[2]["blob_hex"] != "00ff" {
		t.Errorf("changes --json --limit 1: %+v", js)
	}

	mustRun(t, "uninstall", path)
	if after := dbtest.SchemaRows(t, db); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("schema after uninstall differs:\n%s\nwant:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	if r := run(t, "status", path); r.code != 1 || !strings.Contains(r.stderr, "run `deltasync init` on it first") {
		t.Errorf("status after uninstall: exit %d, %q", r.code, r.stderr)
	}
}

// assertRefused checks a bad input: exit 1, one line on stderr naming the
// problem, nothing on stdout.
func assertRefused(t *testing.T, r result, want string) {
	t.Helper()
	assertOneError(t, r, 1, want)
}

// assertOneError checks a refused command: exit code, one line on stderr
// containing want, nothing on stdout.
func assertOneError(t *testing.T, r result, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d", r.code, code)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "deltasync: ") || !strings.Contains(lines[0], want) {
		t.Errorf("stderr %q, want one line containing %q", r.stderr, want)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
}

func fileBytes(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	t.Run("not a database", func(t *testing.T) {
		path := filepath.Join(dir, "notes.txt")
		os.WriteFile(path, []byte("these are my notes, not a database\n"), 0o644)
		assertRefused(t, run(t, "init", path), "is not a SQLite database")
		if fileBytes(t, path) != "these are my notes, not a database\n" {
			t.Error("the file changed")
		}
	})
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(dir, "missing.db")
		assertRefused(t, run(t, "init", path), "does not exist")
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Error("init created the file")
		}
	})
	t.Run("read-only file", func(t *testing.T) {
		path := dbtest.NewDB(t, appDDL)
		os.Chmod(path, 0o444)
		before := fileBytes(t, path)
		assertRefused(t, run(t, "init", path), "is read-only")
		if fileBytes(t, path) != before {
			t.Error("the file changed")
		}
	})
	t.Run("unknown table in --only", func(t *testing.T) {
		path := dbtest.NewDB(t, appDDL)
		before := fileBytes(t, path)
		assertRefused(t, run(t, "init", path, "--only", "notes,nope"), `--only names table "nope"`)
		if fileBytes(t, path) != before {
			t.Error("the file changed")
		}
	})
	t.Run("virtual table in --only", func(t *testing.T) {
		path := dbtest.NewDB(t, appDDL)
		assertRefused(t, run(t, "init", path, "--only", "search"), "cannot be tracked: virtual table")
	})
	t.Run("locked database", func(t *testing.T) {
		path := dbtest.NewDB(t, appDDL)
		before := fileBytes(t, path)
		release := holdLock(t, path)
		r := run(t, "init", path, "--busy-timeout", "100ms")
		release()
		assertRefused(t, r, "is locked")
		if fileBytes(t, path) != before {
			t.Error("the file changed")
		}
	})
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{{}, {"frobnicate"}, {"init"}, {"init", "a.db", "b.db"}, {"changes", "a.db", "--limit", "x"}} {
			if r := run(t, args...); r.code != 2 {
				t.Errorf("deltasync %q: exit %d, want 2", args, r.code)
			}
		}
	})
}

// holdLock makes the sqlite3 shell, another process, hold an exclusive lock
// on path until the returned function is called.
func holdLock(t *testing.T, path string) func() {
	t.Helper()
	cmd := exec.Command(dbtest.SQLite3(t), path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Write([]byte("BEGIN EXCLUSIVE; INSERT INTO log VALUES ('locking'); SELECT 'locked';\n"))
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if strings.TrimSpace(line) != "locked" {
			t.Fatalf("sqlite3 shell printed %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sqlite3 shell did not take the lock within 10s")
	}
	return func() {
		stdin.Write([]byte("ROLLBACK;\n"))
		stdin.Close()
		cmd.Wait()
	}
}

// TestSyncRefusesUninstalled checks that sync on a database without
// deltasync says what to do and leaves the file as it was.
func TestSyncRefusesUninstalled(t *testing.T) {
	path := dbtest.NewDB(t, appDDL)
	before := fileBytes(t, path)
	assertRefused(t, run(t, "sync", path, "--hub", "http://127.0.0.1:9", "--once"), "run `deltasync init` on it first")
	if fileBytes(t, path) != before {
		t.Error("the file changed")
	}
}
