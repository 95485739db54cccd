package replicator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/schema"
)

// Conflict is one recorded conflict: a write that lost to a concurrent one.
type Conflict struct {
	ID         int64 // what Resolve takes
	Table      string
	Key        []any
	Kind       string // update, insert, delete or deleted (see _sync_conflicts)
	At         time.Time
	Resolved   time.Time // zero while unresolved
	Resolution string
	Columns    []ConflictColumn
}

// ConflictColumn is one column of a conflict, both sides with their
// storage classes, clocks and sites. Column "" is the row's existence.
type ConflictColumn struct {
	Column              string
	Lost, Won           any
	LostClock, WonClock change.Clock
	LostDeleted         bool // the losing side deleted the row
	WonDeleted          bool // the winning side deleted the row
}

// ConflictFilter selects conflicts; the zero value selects all.
type ConflictFilter struct {
	Table  string
	Events []int64 // conflict ids
}

// ErrNoConflict: no conflict has the id given.
var ErrNoConflict = errors.New("no such conflict")

// Conflicts lists the conflicts f selects, oldest first. A database
// installed before conflicts were recorded has none.
func (n *Node) Conflicts(ctx context.Context, f ConflictFilter) ([]Conflict, error) {
	if ok, err := conflictsKept(ctx, n.DB); err != nil || !ok {
		return nil, err
	}
	return listConflicts(ctx, n.DB, f)
}

// UnresolvedConflicts counts the conflicts not resolved yet.
func UnresolvedConflicts(ctx context.Context, q sqlx.QueryerContext) (int64, error) {
	if ok, err := conflictsKept(ctx, q); err != nil || !ok {
		return 0, err
	}
	var n int64
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(DISTINCT event) FROM _sync_conflicts WHERE resolved IS NULL`)
	if err != nil {
		return 0, fmt.Errorf("count conflicts: %w", err)
	}
	return n, nil
}

// conflictsKept: a database deltasync was installed on before it recorded
// conflicts has no _sync_conflicts until `deltasync init` runs again.
func conflictsKept(ctx context.Context, q sqlx.QueryerContext) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '_sync_conflicts'`)
	if err != nil {
		return false, fmt.Errorf("look for conflicts: %w", err)
	}
	return n > 0, nil
}

func listConflicts(ctx context.Context, q sqlx.QueryerContext, f ConflictFilter) ([]Conflict, error) {
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
		var col ConflictColumn
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

// Keep says which side a resolution keeps.
type Keep struct {
	// Side is "local" (the side this node wrote; the value in the database
	// if neither side was written here), "remote" (the other side) or
	// "value" (Values).
	Side   string
	Values map[string]any // by column, for Side "value"
}

// Resolve settles a conflict by writing the side it keeps into the row as
// an ordinary local write, which syncs like any other and, being newer
// than both sides and made with both seen, wins everywhere; then it marks
// the conflict resolved. Keeping what the database holds writes nothing.
func (n *Node) Resolve(ctx context.Context, id int64, keep Keep) error {
	cs, err := n.Conflicts(ctx, ConflictFilter{Events: []int64{id}})
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return fmt.Errorf("%w %d: list them with `deltasync conflicts`", ErrNoConflict, id)
	}
	c := cs[0]
	vals, del, err := n.chosen(c, keep)
	if err != nil {
		return err
	}
	tx, err := n.DB.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	tracked, err := n.log.Tracked(ctx, tx)
	if err != nil {
		return err
	}
	t, ok := tracked[c.Table]
	if !ok {
		return fmt.Errorf("conflict %d: table %s is no longer tracked", id, schema.Ident(c.Table))
	}
	if err := writeRow(ctx, tx, t.Table, c.Key, vals, del); err != nil {
		return fmt.Errorf("resolve conflict %d: %w", id, err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE _sync_conflicts SET resolved = julianday('now'), resolution = ? WHERE event = ?`,
		keep.Side, id)
	if err != nil {
		return err
	}
	return tx.Commit()
}

// chosen returns the values a resolution writes, or that it deletes the row.
func (n *Node) chosen(c Conflict, keep Keep) (map[string]any, bool, error) {
	vals := map[string]any{}
	del := false
	for _, col := range c.Columns {
		lostIsLocal := col.LostClock.Site == n.site
		var useLost bool
		switch keep.Side {
		case "local":
			useLost = lostIsLocal
		case "remote":
			useLost = !lostIsLocal
		case "value":
			if col.Column == "" {
				continue
			}
			v, ok := keep.Values[col.Column]
			if !ok {
				return nil, false, fmt.Errorf("conflict %d: no value given for column %s", c.ID, schema.Ident(col.Column))
			}
			vals[col.Column] = v
			continue
		default:
			return nil, false, fmt.Errorf("keep %q: use local, remote or value", keep.Side)
		}
		dead, v := col.WonDeleted, col.Won
		if useLost {
			dead, v = col.LostDeleted, col.Lost
		}
		if dead {
			del = true
		} else if col.Column != "" {
			vals[col.Column] = v
		}
	}
	for name := range keep.Values {
		if _, ok := vals[name]; !ok && keep.Side == "value" {
			return nil, false, fmt.Errorf("conflict %d has no column %s", c.ID, schema.Ident(name))
		}
	}
	return vals, del, nil
}

// writeRow makes the row hold vals, inserting it if it is gone, or deletes it.
func writeRow(ctx context.Context, tx *sqlx.Tx, t schema.Table, key []any, vals map[string]any, del bool) error {
	if len(key) != len(t.Key) {
		return fmt.Errorf("key of %d values for a key of %d columns", len(key), len(t.Key))
	}
	where := keyWhere(t)
	if del {
		_, err := tx.ExecContext(ctx, `DELETE FROM `+schema.Ident(t.Name)+` WHERE `+where, key...)
		return err
	}
	var exists bool
	if err := tx.GetContext(ctx, &exists, `SELECT count(*) > 0 FROM `+schema.Ident(t.Name)+` WHERE `+where, key...); err != nil {
		return err
	}
	var names []string
	var args []any
	for name, v := range vals {
		names, args = append(names, schema.Ident(name)), append(args, v)
	}
	if exists {
		if len(names) == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE `+schema.Ident(t.Name)+` SET `+strings.Join(names, " = ?, ")+` = ? WHERE `+where,
			append(args, key...)...)
		return err
	}
	for _, k := range t.Key {
		names = append(names, schema.Ident(k))
	}
	args = append(args, key...)
	_, err := tx.ExecContext(ctx, `INSERT INTO `+schema.Ident(t.Name)+` (`+strings.Join(names, ", ")+`) VALUES (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ")+`)`, args...)
	return err
}

// ClearConflicts deletes the conflicts recorded before a time (all of them
// if before is zero), every column of each, and returns how many conflicts
// it deleted.
func (n *Node) ClearConflicts(ctx context.Context, before time.Time) (int64, error) {
	if ok, err := conflictsKept(ctx, n.DB); err != nil || !ok {
		return 0, err
	}
	tx, err := n.DB.BeginTxx(ctx, nil)
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
