package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/golang-migrate/migrate/v4"
	msqlite "github.com/golang-migrate/migrate/v4/database/sqlite3"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// Table is the table golang-migrate keeps deltasync's schema version in.
const Table = "_sync_schema_migrations"

//go:embed sql/*.sql
var files embed.FS

// Up brings deltasync's internal tables to the newest version. It is a no-op
// on a database that is already there.
//
// The migrate instance is deliberately not closed: the sqlite3 driver's Close
// closes the *sql.DB it was given, which belongs to the caller.
func Up(ctx context.Context, db *sql.DB) error {
	// golang-migrate writes its version table even when there is nothing to
	// do; skipping it keeps a second install from touching the file at all.
	current, err := Version(ctx, db)
	if err != nil {
		return fmt.Errorf("read deltasync schema version: %w", err)
	}
	latest, err := Latest()
	if err != nil || current == latest {
		return err
	}
	m, err := newMigrate(db)
	if err != nil {
		return err
	}
	// golang-migrate's error type has no Unwrap: its text is all that carries over.
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate deltasync tables: %v", err)
	}
	return releaseIndexName(ctx, db)
}

// Version returns the schema version of deltasync's tables, or 0 if they are
// not installed.
func Version(ctx context.Context, db *sql.DB) (uint, error) {
	var n int
	err := db.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, Table).Scan(&n)
	if err != nil || n == 0 {
		return 0, err
	}
	var v uint
	err = db.QueryRowContext(ctx, `SELECT version FROM `+Table+` LIMIT 1`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// Latest returns the version of the newest embedded migration.
func Latest() (uint, error) {
	src, err := iofs.New(files, "sql")
	if err != nil {
		return 0, fmt.Errorf("read embedded migrations: %w", err)
	}
	defer src.Close()
	v, err := src.First()
	for err == nil {
		var next uint
		if next, err = src.Next(v); err == nil {
			v = next
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("read embedded migrations: %w", err)
	}
	return v, nil
}

// Tables lists the tables the migrations create, golang-migrate's own
// version table last. Uninstall drops exactly these.
var Tables = []string{
	"_sync_state", "_sync_tables", "_sync_columns", "_sync_changelog",
	"_sync_applied", "_sync_peers", "_sync_sites", "_sync_clock", "_sync_conflicts", "_sync_hub_sites", "_sync_held",
	"_sync_applying", "_sync_app_triggers", Table,
}

func newMigrate(db *sql.DB) (*migrate.Migrate, error) {
	src, err := iofs.New(files, "sql")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	drv, err := msqlite.WithInstance(db, &msqlite.Config{MigrationsTable: Table})
	if err != nil {
		return nil, fmt.Errorf("prepare migrations table: %v", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "sqlite3", drv)
	if err != nil {
		return nil, fmt.Errorf("prepare migrations: %v", err)
	}
	return m, nil
}

// releaseIndexName drops golang-migrate's version_unique index when it was
// created on our table: the name is global in a SQLite database, and an app
// that uses golang-migrate itself needs it for schema_migrations.
func releaseIndexName(ctx context.Context, db *sql.DB) error {
	var n int
	err := db.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'version_unique' AND tbl_name = ?`,
		Table).Scan(&n)
	if err != nil || n == 0 {
		return err
	}
	_, err = db.ExecContext(ctx, `DROP INDEX version_unique`)
	return err
}
