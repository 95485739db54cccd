package deltasync_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

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
