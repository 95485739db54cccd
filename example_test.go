package deltasync_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"github.com/deltasync/deltasync"
	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/hub"
)

// Two devices share a notes database through a hub: a note written on one
// arrives on the other.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "deltasync-example")
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// A hub, in process here; in production `deltasync hub`.
	store := hub.NewStore(filepath.Join(dir, "hub"))
	store.Logger = quiet
	defer store.Close()
	srv := httptest.NewServer(hub.NewServer(store).Handler())
	defer srv.Close()

	var devices []*deltasync.Node
	for _, name := range []string{"phone.db", "laptop.db"} {
		path := filepath.Join(dir, name)
		mustExec(path, `CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)`)
		node, err := deltasync.Open(ctx, path, deltasync.Options{Hub: srv.URL, Name: "notes", Logger: quiet})
		if err != nil {
			panic(err)
		}
		defer node.Close(ctx)
		devices = append(devices, node)
	}
	phone, laptop := devices[0], devices[1]

	// The app writes as it always has.
	phone.DB().MustExec(`INSERT INTO notes VALUES ('n1', 'buy milk')`)

	// The background loop would carry it within milliseconds; sync now to be sure.
	phone.SyncOnce(ctx)
	laptop.SyncOnce(ctx)
	var body string
	laptop.DB().Get(&body, `SELECT body FROM notes WHERE id = 'n1'`)
	fmt.Println(body)
	// Output: buy milk
}

func mustExec(path, ddl string) {
	db := sqlx.MustOpen("sqlite3", path)
	defer db.Close()
	db.MustExec(ddl)
}

// An app is told of the writes that lost to a concurrent edit on another
// device, lists them, and keeps its own value where that is what the user
// wants. (Not run: it needs a second device to disagree with.)
func ExampleNode_Resolve() {
	ctx := context.Background()
	node, err := deltasync.Open(ctx, "notes.db", deltasync.Options{
		Hub:        "http://127.0.0.1:7070",
		Policies:   map[string]changelog.Policy{"invoices": changelog.Manual},
		OnConflict: func(cs []deltasync.Conflict) { fmt.Println(len(cs), "new conflicts") },
	})
	if err != nil {
		panic(err)
	}
	defer node.Close(ctx)

	conflicts, err := node.Conflicts(ctx, "notes")
	if err != nil {
		panic(err)
	}
	for _, c := range conflicts {
		if c.Resolved.IsZero() {
			// Writes the local side again, as a new write that every device takes.
			if err := node.Resolve(ctx, c.ID, deltasync.Keep{Side: "local"}); err != nil {
				panic(err)
			}
		}
	}
}
