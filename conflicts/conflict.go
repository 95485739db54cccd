package conflicts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/changelog"
)

// Conflict is one recorded conflict: a write that lost to a concurrent one.
type Conflict struct {
	ID         int64 // what Resolve takes
	Table      string
	Key        []any
	Kind       string // update, insert, delete, deleted, unique or orphan (see _sync_conflicts)
	At         time.Time
	Resolved   time.Time // zero while unresolved
	Resolution string
	Columns    []Column
}

// Column is one column of a conflict, both sides with their storage
// classes, clocks and sites. Column "" is the row's existence.
type Column struct {
	Column              string
	Lost, Won           any
	LostClock, WonClock change.Clock
	LostDeleted         bool // the losing side deleted the row
	WonDeleted          bool // the winning side deleted the row
}

// Filter selects conflicts; the zero value selects all.
type Filter struct {
	Table  string
	Events []int64 // conflict ids
}

// ErrNoConflict: no conflict has the id given.
var ErrNoConflict = errors.New("no such conflict")

// List returns the conflicts f selects, oldest first. A database installed
// before conflicts were recorded has none.
func List(ctx context.Context, q sqlx.QueryerContext, f Filter) ([]Conflict, error) {
	if ok, err := kept(ctx, q); err != nil || !ok {
		return nil, err
	}
	return list(ctx, q, f)
}

// Unresolved counts the conflicts not resolved yet.
func Unresolved(ctx context.Context, q sqlx.QueryerContext) (int64, error) {
	if ok, err := kept(ctx, q); err != nil || !ok {
		return 0, err
	}
	var n int64
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(DISTINCT event) FROM _sync_conflicts WHERE resolved IS NULL`)
	if err != nil {
		return 0, fmt.Errorf("count conflicts: %w", err)
	}
	return n, nil
}

// kept: a database deltasync was installed on before it recorded
// conflicts has no _sync_conflicts until `deltasync init` runs again.
func kept(ctx context.Context, q sqlx.QueryerContext) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '_sync_conflicts'`)
	if err != nil {
		return false, fmt.Errorf("look for conflicts: %w", err)
	}
	return n > 0, nil
}

func list(ctx context.Context, q sqlx.QueryerContext, f Filter) ([]Conflict, error) {
	where, args := []string{"1"}, []any{}
	if f.Table != "" {
		where, args = append(where, "tbl = ?"), append(args, f.Table)
	}
	if len(f.Events) > 0 {
		where = append(where, "event IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Events)), ", ")+")")
		for _, e := range f.Events {
			args = append(args, e)
		}
	}
	rows, err := q.QueryContext(ctx, `SELECT event, tbl, k0, k1, k2, k3, kind, at, resolved, ifnull(resolution, ''),
		ifnull(col, ''), lost, won, lost_hlc, lost_site, won_hlc, won_site, lost_dead, won_dead
		FROM _sync_conflicts WHERE `+strings.Join(where, " AND ")+` ORDER BY event, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read conflicts: %w", err)
	}
	defer rows.Close()
	var out []Conflict
	for rows.Next() {
		var c Conflict
		var k [4]any
		var at float64
		var resolved *float64
		var col Column
		var lostSite, wonSite []byte
		if err := rows.Scan(&c.ID, &c.Table, &k[0], &k[1], &k[2], &k[3], &c.Kind, &at, &resolved, &c.Resolution,
			&col.Column, &col.Lost, &col.Won, &col.LostClock.HLC, &lostSite, &col.WonClock.HLC, &wonSite,
			&col.LostDeleted, &col.WonDeleted); err != nil {
			return nil, err
		}
		copy(col.LostClock.Site[:], lostSite)
		copy(col.WonClock.Site[:], wonSite)
		if len(out) == 0 || out[len(out)-1].ID != c.ID {
			c.Key = trimKey(k)
			c.At = changelog.JulianTime(at)
			if resolved != nil {
				c.Resolved = changelog.JulianTime(*resolved)
			}
			out = append(out, c)
		}
		last := &out[len(out)-1]
		last.Columns = append(last.Columns, col)
	}
	return out, rows.Err()
}

// trimKey drops the NULLs the key columns k0..k3 hold past a key's end.
// A key value itself is never NULL: rows with a NULL key are not synced.
func trimKey(k [4]any) []any {
	n := len(k)
	for n > 1 && k[n-1] == nil {
		n--
	}
	return append([]any(nil), k[:n]...)
}

// Clear deletes the conflicts recorded before a time (all of them if before
// is zero), every column of each, and returns how many conflicts it deleted.
func Clear(ctx context.Context, db *sqlx.DB, before time.Time) (int64, error) {
	if ok, err := kept(ctx, db); err != nil || !ok {
		return 0, err
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	where, args := `id = event`, []any{}
	if !before.IsZero() {
		where += ` AND at < julianday(?)`
		args = append(args, before.UTC().Format("2006-01-02 15:04:05.000"))
	}
	var events int64
	if err := tx.GetContext(ctx, &events, `SELECT count(*) FROM _sync_conflicts WHERE `+where, args...); err != nil || events == 0 {
		return 0, err // nothing to delete: write nothing
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM _sync_conflicts WHERE event IN (SELECT event FROM _sync_conflicts WHERE `+where+`)`, args...)
	if err != nil {
		return 0, fmt.Errorf("clear conflicts: %w", err)
	}
	return events, tx.Commit()
}
