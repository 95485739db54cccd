package deltasync_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/deltasync/deltasync"
	"github.com/deltasync/deltasync/hub"
	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"
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
