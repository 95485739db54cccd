package migrations_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/golang-migrate/migrate/v4"
	msqlite "github.com/golang-migrate/migrate/v4/database/sqlite3"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/migrations"
)

// appMigrate runs an app's own golang-migrate migrations, with the default
// migrations table schema_migrations, up to version v.
func appMigrate(t *testing.T, path string, v uint) {
	t.Helper()
	src, err := iofs.New(fstest.MapFS{
		"1_notes.up.sql":   {Data: []byte(`CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT);`)},
		"1_notes.down.sql": {Data: []byte(`DROP TABLE notes;`)},
		"2_tags.up.sql":    {Data: []byte(`CREATE TABLE tags (name TEXT PRIMARY KEY);`)},
		"2_tags.down.sql":  {Data: []byte(`DROP TABLE tags;`)},
	}, ".")
	if err != nil {
		t.Fatal(err)
	}
	db := dbtest.MustOpenDB(t, path) // closed by m.Close below, and again harmlessly at cleanup
	drv, err := msqlite.WithInstance(db.DB, &msqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "sqlite3", drv)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Migrate(v); err != nil {
		t.Fatalf("app migrate to %d: %v", v, err)
	}
}

func versions(t *testing.T, db *sqlx.DB) (app, ours uint) {
	t.Helper()
	if err := db.Get(&app, `SELECT version FROM schema_migrations`); err != nil {
		t.Fatal(err)
	}
	ours, err := migrations.Version(context.Background(), db.DB)
	if err != nil {
		t.Fatal(err)
	}
	return app, ours
}

func indexTable(t *testing.T, db *sqlx.DB) string {
	t.Helper()
	var tbl string
	if err := db.Get(&tbl, `SELECT tbl_name FROM sqlite_schema WHERE type = 'index' AND name = 'version_unique'`); err != nil {
		t.Fatalf("index version_unique: %v", err)
	}
	return tbl
}

func TestAppUsingGolangMigrateBefore(t *testing.T) {
	path := dbtest.NewDB(t, `PRAGMA user_version = 0;`)
	appMigrate(t, path, 1)
	db := dbtest.MustOpenDB(t, path)
	latest, err := migrations.Latest()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := migrations.Up(context.Background(), db.DB); err != nil {
			t.Fatal(err)
		}
	}
	appMigrate(t, path, 2)
	if app, ours := versions(t, db); app != 2 || ours != latest {
		t.Errorf("versions: app %d, deltasync %d; want 2 and %d", app, ours, latest)
	}
	if tbl := indexTable(t, db); tbl != "schema_migrations" {
		t.Errorf("version_unique is on %s, want schema_migrations", tbl)
	}
}

func TestAppUsingGolangMigrateAfter(t *testing.T) {
	path := dbtest.NewDB(t, `PRAGMA user_version = 0;`)
	db := dbtest.MustOpenDB(t, path)
	if err := migrations.Up(context.Background(), db.DB); err != nil {
		t.Fatal(err)
	}
	appMigrate(t, path, 2)
	app, ours := versions(t, db)
	if app != 2 || ours == 0 {
		t.Errorf("versions: app %d, deltasync %d", app, ours)
	}
	// The app's golang-migrate found the index name free and took it.
	if tbl := indexTable(t, db); tbl != "schema_migrations" {
		t.Errorf("version_unique is on %s, want schema_migrations", tbl)
	}
}

func TestTablesListsWhatMigrationsCreate(t *testing.T) {
	db := dbtest.MustOpenDB(t, dbtest.NewDB(t, `PRAGMA user_version = 0;`))
	if err := migrations.Up(context.Background(), db.DB); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := db.Select(&got, `SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, name := range migrations.Tables {
		want[name] = true
	}
	if len(got) != len(want) {
		t.Errorf("migrations created %v, migrations.Tables lists %v", got, migrations.Tables)
	}
	for _, name := range got {
		if !want[name] {
			t.Errorf("migrations created %s, which migrations.Tables does not list: uninstall would leave it", name)
		}
	}
}
