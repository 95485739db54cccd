package changelog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/schema"
)

// ErrNotInstalled is returned for a database that deltasync was never
// installed on (or was uninstalled from).
var ErrNotInstalled = errors.New("no deltasync tables in this database: run `deltasync init` on it first")

// Log reads and writes one node's changelog. It caches the tracked tables'
// schema and reloads it when the database's schema_version moves.
type Log struct {
	db            *sqlx.DB
	schemaVersion int64
	tables        map[int64]*table
}

// table is a tracked table as the reader needs it.
type table struct {
	schema.Table
	id       int64
	writable []schema.Column
	colIndex map[int64]int    // column id -> index in writable
	colIDs   map[string]int64 // column name -> id
	policy   Policy
	valueSQL string // selects key and writable columns of the rows logged in a version range
	scanSQL  string // selects key and writable columns of every row
	rowSQL   string // selects the writable columns of the row with a key
	sizeSQL  string // selects the TEXT and BLOB bytes of each writable column of the row with a key
}

// New returns a Log on db. It does no I/O.
func New(db *sqlx.DB) *Log {
	return &Log{db: db}
}

// Installed reports whether deltasync's tables exist in the database.
func Installed(ctx context.Context, q sqlx.QueryerContext) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n,
		`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '_sync_changelog'`)
	return n > 0, err
}

// DB returns the database the log is on.
func (l *Log) DB() *sqlx.DB { return l.db }

// change.SiteID returns the node's site id.
func (l *Log) SiteID(ctx context.Context) (change.SiteID, error) {
	var id change.SiteID
	var b []byte
	if err := ReadState(ctx, l.db, StateSiteID, &b); err != nil {
		return id, l.explain(ctx, fmt.Errorf("read site id: %w", err))
	}
	if len(b) != len(id) {
		return id, fmt.Errorf("site id is %d bytes, want %d", len(b), len(id))
	}
	copy(id[:], b)
	return id, nil
}

// LastVersion returns the newest version in the changelog, 0 if it is empty.
func (l *Log) LastVersion(ctx context.Context) (change.Version, error) {
	return l.LastVersionTx(ctx, l.db)
}

// LastVersionTx is LastVersion inside q's transaction.
func (l *Log) LastVersionTx(ctx context.Context, q sqlx.QueryerContext) (change.Version, error) {
	v, err := lastVersion(ctx, q)
	if err != nil {
		return 0, l.explain(ctx, err)
	}
	return v, nil
}

// lastVersion reads the newest version in the changelog, 0 if it is empty.
func lastVersion(ctx context.Context, q sqlx.QueryerContext) (change.Version, error) {
	var v change.Version
	if err := sqlx.GetContext(ctx, q, &v, `SELECT coalesce(max(version), 0) FROM _sync_changelog`); err != nil {
		return 0, fmt.Errorf("read last version: %w", err)
	}
	return v, nil
}

// Tables returns the names of the tracked tables that exist, in name order.
func (l *Log) Tables(ctx context.Context) ([]string, error) {
	var names []string
	err := l.db.SelectContext(ctx, &names, `SELECT t.name FROM _sync_tables t
		WHERE EXISTS (SELECT 1 FROM sqlite_schema s WHERE s.type = 'table' AND s.name = t.name)
		ORDER BY t.name`)
	if err != nil {
		return nil, l.explain(ctx, fmt.Errorf("read tracked tables: %w", err))
	}
	return names, nil
}

// Pending counts local changes not yet pushed to every peer: the changelog
// rows after the lowest pushed cursor that replay did not write.
func (l *Log) Pending(ctx context.Context) (int64, error) {
	var n int64
	err := l.db.GetContext(ctx, &n, `SELECT count(*) FROM _sync_changelog c
		WHERE c.version > (SELECT coalesce(min(pushed), 0) FROM _sync_peers)
		AND NOT EXISTS (SELECT 1 FROM _sync_applied a WHERE c.version BETWEEN a.first AND a.last)`)
	if err != nil {
		return 0, l.explain(ctx, fmt.Errorf("count pending changes: %w", err))
	}
	return n, nil
}

// explain turns the error of a query on a database without deltasync into ErrNotInstalled.
func (l *Log) explain(ctx context.Context, err error) error {
	if ok, ierr := Installed(ctx, l.db); ierr == nil && !ok {
		return ErrNotInstalled
	}
	return err
}

// loadTables reads the registry and the live schema of the tracked tables,
// unless the schema has not changed since the last load.
func (l *Log) loadTables(ctx context.Context, q sqlx.QueryerContext) error {
	var sv int64
	if err := sqlx.GetContext(ctx, q, &sv, `PRAGMA schema_version`); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if l.tables != nil && sv == l.schemaVersion {
		return nil
	}
	live, err := schema.Read(ctx, q, schema.Filter{})
	if err != nil {
		return err
	}
	var regs []struct {
		Tbl  int64          `db:"tbl"`
		Name string         `db:"name"`
		Col  sql.NullInt64  `db:"col"`
		Cn   sql.NullString `db:"cn"`
		Pol  Policy         `db:"policy"`
	}
	err = sqlx.SelectContext(ctx, q, &regs, `SELECT t.id AS tbl, t.name, c.id AS col, c.name AS cn, t.policy
		FROM _sync_tables t LEFT JOIN _sync_columns c ON c.tbl = t.id ORDER BY t.id`)
	if err != nil {
		return l.explain(ctx, fmt.Errorf("read tracked tables: %w", err))
	}
	tables := map[int64]*table{}
	for _, r := range regs {
		t, ok := tables[r.Tbl]
		if !ok {
			st, found := live.Table(r.Name)
			if !found {
				continue // dropped since init; its log rows are skipped
			}
			t = newTable(r.Tbl, st)
			t.policy = r.Pol
			tables[r.Tbl] = t
		}
		if r.Col.Valid {
			for i, c := range t.writable {
				if c.Name == r.Cn.String {
					t.colIndex[r.Col.Int64] = i
					t.colIDs[c.Name] = r.Col.Int64
				}
			}
		}
	}
	l.tables, l.schemaVersion = tables, sv
	return nil
}

func newTable(id int64, st schema.Table) *table {
	t := &table{Table: st, id: id, writable: st.Writable(), colIndex: map[int64]int{}, colIDs: map[string]int64{}}
	var sel, keys, logKeys []string
	for i, k := range st.Key {
		sel = append(sel, "+"+schema.Ident(k))
		keys = append(keys, schema.Ident(k))
		logKeys = append(logKeys, fmt.Sprintf("k%d", i))
	}
	for _, c := range t.writable {
		sel = append(sel, "+"+schema.Ident(c.Name))
	}
	t.scanSQL = fmt.Sprintf(`SELECT %s FROM %s`, strings.Join(sel, ", "), schema.Ident(st.Name))
	t.rowSQL, t.sizeSQL = keyLookups(st.Name, keys, t.writable)
	t.valueSQL = fmt.Sprintf(`%s WHERE (%s) IN (SELECT %s FROM _sync_changelog WHERE tbl = ? AND version > ? AND version <= ?)`,
		t.scanSQL, strings.Join(keys, ", "), strings.Join(logKeys, ", "))
	return t
}

// Tracked is a tracked table as the replicator needs it: its id, live
// schema and column ids.
type Tracked struct {
	ID        int64
	Table     schema.Table
	ColumnIDs map[string]int64 // writable columns by name
	Policy    Policy
}

// Tracked returns the tracked tables that exist, by name, as q sees them.
func (l *Log) Tracked(ctx context.Context, q sqlx.QueryerContext) (map[string]Tracked, error) {
	if err := l.loadTables(ctx, q); err != nil {
		return nil, err
	}
	out := make(map[string]Tracked, len(l.tables))
	for _, t := range l.tables {
		out[t.Name] = Tracked{ID: t.id, Table: t.Table, ColumnIDs: t.colIDs, Policy: t.policy}
	}
	return out, nil
}

// KeyBytes encodes key values into bytes that keep each value's storage
// class and every byte, so that equal keys, and only equal keys, encode equally.
func KeyBytes(key []any) []byte {
	return appendKey(nil, key)
}

// AppendKeyBytes appends KeyBytes(key) to dst.
func AppendKeyBytes(dst []byte, key []any) []byte {
	return appendKey(dst, key)
}
