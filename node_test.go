package deltasync_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/deltasync/deltasync"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
)

// TestCloseDuringLongPoll closes a node while its background loop waits in
// a long-poll: Close must end the poll rather than wait it out, and return
// only once the loop is gone (run with -race in `make test`: a pull still
// decoding after Close would race with it).
func TestCloseDuringLongPoll(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := hub.NewStore(filepath.Join(t.TempDir(), "hub"))
	store.Logger = quiet
	t.Cleanup(func() { store.Close() })
	srv := httptest.NewServer(hub.NewServer(store).Handler())
	t.Cleanup(srv.Close)

	path := filepath.Join(t.TempDir(), "notes.db")
	mustExec(path, `CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)`)
	ctx := context.Background()
	node, err := deltasync.Open(ctx, path, deltasync.Options{
		Hub: srv.URL, Name: "notes", Logger: quiet, Run: device.RunOptions{Wait: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	node.DB().MustExec(`INSERT INTO notes VALUES ('n1', 'buy milk')`)
	deadline := time.Now().Add(30 * time.Second)
	for store.Waiting("notes") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the node never long-polled the hub")
		}
		time.Sleep(5 * time.Millisecond)
	}

	closeCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := node.Close(closeCtx); err != nil {
		t.Fatalf("Close during a one-minute long-poll: got %v, want nil", err)
	}
	if err := node.DB().Ping(); err == nil {
		t.Error("the database is still open after Close")
	}
	for store.Waiting("notes") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the hub still holds the node's long-poll after Close")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// calibreApp is an app that registers an SQL function its triggers call,
// as calibre registers title_sort: only its own connections have it.
var calibreApp = func() string {
	sql.Register("sqlite3-calibre-app", &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		return c.RegisterFunc("title_sort", func(s string) string {
			if rest, ok := strings.CutPrefix(s, "The "); ok {
				return rest + ", The"
			}
			return s
		}, true)
	}})
	return "sqlite3-calibre-app"
}()

const booksDDL = `CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT, sort TEXT);
CREATE TRIGGER books_insert_trg AFTER INSERT ON books BEGIN
  UPDATE books SET sort = title_sort(NEW.title) WHERE id = NEW.id;
END;`

// TestAppFunctionInTrigger: an app whose trigger calls a function only the
// app registers syncs: the row the app wrote arrives whole on the other
// device, whose deltasync has no such function (SQLite compiles the
// trigger into every write of the table, replay included).
func TestAppFunctionInTrigger(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := hub.NewStore(filepath.Join(t.TempDir(), "hub"))
	store.Logger = quiet
	t.Cleanup(func() { store.Close() })
	srv := httptest.NewServer(hub.NewServer(store).Handler())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	var nodes []*deltasync.Node
	var paths []string
	for range 2 {
		path := filepath.Join(t.TempDir(), "library.db")
		mustExec(path, booksDDL)
		n, err := deltasync.Open(ctx, path, deltasync.Options{Hub: srv.URL, Name: "library", Logger: quiet, Run: device.RunOptions{Interval: time.Hour}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close(ctx) })
		nodes, paths = append(nodes, n), append(paths, path)
	}
	app, err := sql.Open(calibreApp, paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.Exec(`INSERT INTO books (id, title) VALUES (1, 'The Hobbit')`); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if _, err := n.SyncOnce(ctx); err != nil {
			t.Fatalf("sync: %v", err)
		}
	}
	var sort string
	if err := nodes[1].DB().Get(&sort, `SELECT sort FROM books WHERE id = 1`); err != nil || sort != "Hobbit, The" {
		t.Errorf("the other device holds sort %q (%v), want %q as the app computed it", sort, err, "Hobbit, The")
	}
}
