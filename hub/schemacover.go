package hub

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/schema"
)

// onlyTracked checks that the fingerprint covers every object in db: the
// fingerprint covers the tables deltasync tracks and their indexes
// (schema.Table.SQL and Indexes), so a table that schema skips as
// untrackable (its columns hide the rowid, its key is too wide), or an
// index of one, would otherwise ride along under the honest fingerprint.
// db holds only what the schema's statements made, and sqlite_sequence.
func onlyTracked(ctx context.Context, db sqlx.QueryerContext) error {
	s, err := schema.Read(ctx, db, schema.Filter{})
	if err != nil {
		return err
	}
	covered := map[string]bool{}
	for _, t := range s.Tables {
		covered[t.SQL] = true
		for _, ix := range t.Indexes {
			covered[ix] = true
		}
	}
	var objects []struct {
		Type  string `db:"type"`
		Name  string `db:"name"`
		Table string `db:"tbl_name"`
		SQL   string `db:"sql"`
	}
	err = sqlx.SelectContext(ctx, db, &objects, `SELECT type, name, tbl_name, sql FROM sqlite_schema
		WHERE sql IS NOT NULL AND name <> 'sqlite_sequence'`)
	if err != nil {
		return err
	}
	for _, o := range objects {
		if !covered[o.SQL] {
			return fmt.Errorf("%w: the fingerprint does not cover %s %s: %s", ErrBadSchema, o.Type, schema.Ident(o.Name), whyUntracked(s, o.Table))
		}
	}
	return nil
}

// whyUntracked says why deltasync does not track table.
func whyUntracked(s *schema.Schema, table string) string {
	for _, sk := range s.Skipped {
		if sk.Name == table {
			return "deltasync does not track " + schema.Ident(table) + " (" + sk.Reason + ")"
		}
	}
	return "deltasync does not track it"
}
