package conflicts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/schema"
)

// Keep says which side a resolution keeps.
type Keep struct {
	// Side is "local" (the side this node wrote; the value in the database
	// if neither side was written here), "remote" (the other side) or
	// "value" (Values).
	Side   string
	Values map[string]any // by column, for Side "value"
}

// Resolve settles conflict id of the node whose site is self by writing
// the side it keeps into the row as an ordinary local write, which syncs
// like any other and, being newer than both sides and made with both seen,
// wins everywhere; then it marks the conflict resolved. Keeping what the
// database holds writes nothing.
func Resolve(ctx context.Context, db *sqlx.DB, self change.SiteID, id int64, keep Keep) error {
	cs, err := List(ctx, db, Filter{Events: []int64{id}})
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return fmt.Errorf("%w %d: list them with `deltasync conflicts`", ErrNoConflict, id)
	}
	c := cs[0]
	vals, del, err := chosen(c, keep, self)
	if err != nil {
		return err
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	tracked, err := changelog.New(db).Tracked(ctx, tx)
	if err != nil {
		return err
	}
	t, ok := tracked[c.Table]
	if !ok {
		return fmt.Errorf("conflict %d: table %s is no longer tracked", id, schema.Ident(c.Table))
	}
	if err := writeRow(ctx, tx, t.Table, c.Key, vals, del); err != nil {
		if isUnique(err) {
			return fmt.Errorf("resolve conflict %d: another row of %s holds one of the values kept (%w); "+
				"keep another value with --keep value=JSON, or change the other row first", id, schema.Ident(c.Table), err)
		}
		return fmt.Errorf("resolve conflict %d: %w", id, err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE _sync_conflicts SET resolved = julianday('now'), resolution = ? WHERE event = ?`,
		keep.Side, id)
	if err != nil {
		return err
	}
	return tx.Commit()
}

// chosen returns the values a resolution writes, or that it deletes the
// row, on the node whose site is self.
func chosen(c Conflict, keep Keep, self change.SiteID) (map[string]any, bool, error) {
	vals := map[string]any{}
	del := false
	for _, col := range c.Columns {
		lostIsLocal := col.LostClock.Site == self
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
			if !ok && c.Kind == KindUnique {
				v, ok = col.Lost, true // the row as its writer had it, but the values given
			}
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

// KindUnique is the kind of a conflict about a row that lost a UNIQUE
// collision (replicator/rules.KindUnique): it records every value of the
// row, and a resolution keeping a value keeps the others as they were.
const KindUnique = "unique"

// isUnique reports whether SQLite refused a write on a UNIQUE constraint.
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
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

// keyWhere matches a row of t by its key, bound in key order. It is the
// replicator's (merge.go) for the app's write a resolution makes.
func keyWhere(t schema.Table) string {
	parts := make([]string, len(t.Key))
	for i, k := range t.Key {
		parts[i] = schema.Ident(k) + " IS ?" // IS: SQLite allows NULL in a non-integer primary key
	}
	return strings.Join(parts, " AND ")
}
