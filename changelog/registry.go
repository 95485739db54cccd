package changelog

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/schema"
)

// Registration is a tracked table's id and its columns' ids, as triggers
// write them into the changelog.
type Registration struct {
	TableID   int64
	ColumnIDs map[string]int64 // writable columns by name
}

// Register gives t a table id and each of its writable columns a column id,
// keeping the ids it already has. It runs inside the caller's transaction.
func Register(ctx context.Context, tx *sqlx.Tx, t schema.Table) (Registration, error) {
	reg := Registration{ColumnIDs: map[string]int64{}}
	_, err := tx.ExecContext(ctx, `INSERT INTO _sync_tables (name) VALUES (?) ON CONFLICT (name) DO NOTHING`, t.Name)
	if err != nil {
		return reg, fmt.Errorf("register table %s: %w", schema.Ident(t.Name), err)
	}
	if err := tx.GetContext(ctx, &reg.TableID, `SELECT id FROM _sync_tables WHERE name = ?`, t.Name); err != nil {
		return reg, fmt.Errorf("register table %s: %w", schema.Ident(t.Name), err)
	}
	for _, c := range t.Writable() {
		_, err := tx.ExecContext(ctx, `INSERT INTO _sync_columns (tbl, id, name)
			SELECT ?1, coalesce(max(id), 0) + 1, ?2 FROM _sync_columns WHERE tbl = ?1
			ON CONFLICT (tbl, name) DO NOTHING`, reg.TableID, c.Name)
		if err != nil {
			return reg, fmt.Errorf("register column %s.%s: %w", schema.Ident(t.Name), schema.Ident(c.Name), err)
		}
	}
	rows, err := tx.QueryxContext(ctx, `SELECT id, name FROM _sync_columns WHERE tbl = ?`, reg.TableID)
	if err != nil {
		return reg, fmt.Errorf("read column ids of %s: %w", schema.Ident(t.Name), err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return reg, err
		}
		reg.ColumnIDs[name] = id
	}
	return reg, rows.Err()
}

// Policy is how concurrent writes to a table are merged (see package
// replicator). It is stored in the registry, with the table.
type Policy string

const (
	// LWWColumn: per-column last-writer-wins; concurrent edits of different
	// columns both survive. The default.
	LWWColumn Policy = "lww-column"
	// LWWRow: the whole row of the later of two concurrent writes wins.
	LWWRow Policy = "lww-row"
	// Manual: the first write the hub accepted stays; a concurrent write
	// is recorded as a conflict instead of applied.
	Manual Policy = "manual"
)

// Policies lists every policy, the default first.
var Policies = []Policy{LWWColumn, LWWRow, Manual}

// ParsePolicy returns the policy named s, or an error that lists the valid names.
func ParsePolicy(s string) (Policy, error) {
	for _, p := range Policies {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown conflict policy %q: use %s, %s or %s", s, LWWColumn, LWWRow, Manual)
}

// SetPolicy sets the merge policy of a registered table inside the caller's transaction.
func SetPolicy(ctx context.Context, tx *sqlx.Tx, table string, p Policy) error {
	if _, err := ParsePolicy(string(p)); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE _sync_tables SET policy = ? WHERE name = ? AND policy IS NOT ?`, string(p), table, string(p))
	if err != nil {
		return fmt.Errorf("set policy of %s: %w", schema.Ident(table), err)
	}
	_, err = res.RowsAffected()
	return err
}

// StoredPolicies returns the policy of each registered table, or nothing
// for a database without deltasync (or one installed before policies
// existed): what an install is about to change.
func StoredPolicies(ctx context.Context, q sqlx.QueryerContext) map[string]Policy {
	var rows []struct {
		Name   string `db:"name"`
		Policy Policy `db:"policy"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT name, policy FROM _sync_tables`); err != nil {
		return nil
	}
	out := map[string]Policy{}
	for _, r := range rows {
		out[r.Name] = r.Policy
	}
	return out
}
