package schema

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// ForeignKey is one FOREIGN KEY constraint of a table: its columns From
// name a row of Parent by the parent's columns To, in order.
type ForeignKey struct {
	Parent string
	From   []string
	To     []string
}

// ForeignKeys reads the foreign keys of table from SQLite's own parse of
// its schema. A key that names the parent's columns implicitly refers to
// the parent's primary key: To is filled in from it, or left empty when
// the parent does not exist (SQLite allows that, and so does this).
func ForeignKeys(ctx context.Context, q sqlx.QueryerContext, table string) ([]ForeignKey, error) {
	rows, err := q.QueryxContext(ctx, `SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq`, table)
	if err != nil {
		return nil, fmt.Errorf("read the foreign keys of %s: %w", Ident(table), err)
	}
	defer rows.Close()
	var out []ForeignKey
	last := -1
	for rows.Next() {
		var id int
		var parent, from string
		var to sql.NullString
		if err := rows.Scan(&id, &parent, &from, &to); err != nil {
			return nil, err
		}
		if id != last {
			out, last = append(out, ForeignKey{Parent: parent}), id
		}
		fk := &out[len(out)-1]
		fk.From = append(fk.From, from)
		if to.Valid {
			fk.To = append(fk.To, to.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if len(out[i].To) == 0 {
			if out[i].To, err = primaryKey(ctx, q, out[i].Parent); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// primaryKey returns the declared primary key columns of table, in key order.
func primaryKey(ctx context.Context, q sqlx.QueryerContext, table string) ([]string, error) {
	var cols []string
	err := sqlx.SelectContext(ctx, q, &cols, `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, table)
	if err != nil {
		return nil, fmt.Errorf("read the primary key of %s: %w", Ident(table), err)
	}
	return cols, nil
}
