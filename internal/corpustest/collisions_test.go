package corpustest_test

import (
	"fmt"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/schema"
)

// uniqueColumn is a column of a tracked table that a UNIQUE constraint or
// index of its own covers (not the key; not a partial index).
type uniqueColumn struct {
	ti    *tableInfo
	col   schema.Column
	order string // the expression that orders the table's rows: its rowid
}

// uniqueColumns lists the single-column UNIQUE constraints of the tables
// that have a rowid to pick rows by.
func uniqueColumns(t *testing.T, db *sqlx.DB, tables []*tableInfo) []uniqueColumn {
	t.Helper()
	var out []uniqueColumn
	for _, ti := range tables {
		if len(ti.order) != 1 || ti.WithoutRowid {
			continue
		}
		var cols []string
		err := db.Select(&cols, `SELECT ii.name FROM pragma_index_list(?) il, pragma_index_info(il.name) ii
			WHERE il."unique" AND il.origin <> 'pk' AND NOT il.partial
			AND (SELECT count(*) FROM pragma_index_info(il.name)) = 1 AND ii.name IS NOT NULL
			ORDER BY il.name`, ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range cols {
			for _, c := range ti.Columns {
				if c.Name == name && c.KeyIndex == 0 && !c.Generated {
					out = append(out, uniqueColumn{ti: ti, col: c, order: ti.order[0]})
				}
			}
		}
	}
	return out
}

// collisionValue is a value of c's type that the workload never writes.
func collisionValue(c schema.Column, seed uint64, what string) string {
	switch c.Affinity() {
	case schema.AffinityInteger, schema.AffinityNumeric:
		n := int64(seed%1000) + 7_000_000_000
		if what == "swap" {
			n++
		}
		return fmt.Sprint(n)
	case schema.AffinityReal:
		return fmt.Sprintf("%d.25", seed%1000+7_000_000)
	}
	return schema.Literal(fmt.Sprintf("%s %d", what, seed))
}

// collide is a statement giving u's column the value v on the row at
// offset in the table's order: two devices that run it with different
// offsets give one UNIQUE value to two rows.
func collide(u uniqueColumn, v string, offset int) stmt {
	tbl := schema.Ident(u.ti.Name)
	return one(u.ti.Name, "update", fmt.Sprintf(`UPDATE %s SET %s = %s WHERE %s IN (SELECT %s FROM %s ORDER BY %s LIMIT 1 OFFSET %d)`,
		tbl, schema.Ident(u.col.Name), v, u.order, u.order, tbl, u.order, offset))
}

// swap is a transaction exchanging u's values of two rows through a
// temporary value, as an app reorders or renames: the batch carries only
// the end state, which no order of single-row writes reaches.
func swap(u uniqueColumn, tmp string) stmt {
	tbl, col, o := schema.Ident(u.ti.Name), schema.Ident(u.col.Name), u.order
	first, second := `(SELECT min(r) FROM temp.deltasync_swap)`, `(SELECT max(r) FROM temp.deltasync_swap)`
	return stmt{u.ti.Name, "swap", []string{
		"BEGIN",
		fmt.Sprintf(`CREATE TEMP TABLE deltasync_swap AS SELECT %s AS r, %s AS v FROM %s WHERE %s IS NOT NULL ORDER BY %s LIMIT 2 OFFSET 2`, o, col, tbl, col, o),
		fmt.Sprintf(`UPDATE %s SET %s = %s WHERE %s = %s`, tbl, col, tmp, o, first),
		fmt.Sprintf(`UPDATE %s SET %s = (SELECT v FROM temp.deltasync_swap WHERE r = %s) WHERE %s = %s`, tbl, col, first, o, second),
		fmt.Sprintf(`UPDATE %s SET %s = (SELECT v FROM temp.deltasync_swap WHERE r = %s) WHERE %s = %s`, tbl, col, second, o, first),
		"DROP TABLE temp.deltasync_swap",
		"COMMIT",
	}}
}

// collisions returns, per pass of the unseen schedule, the statements
// added to it: the devices of passes 2 and 3, which have not seen each
// other's writes, give one new value of every UNIQUE column to two
// different rows, and the device of pass 4 swaps two rows' values.
func collisions(t *testing.T, db *sqlx.DB, tables []*tableInfo, seed uint64) [][]stmt {
	t.Helper()
	out := make([][]stmt, 4)
	for _, u := range uniqueColumns(t, db, tables) {
		v := collisionValue(u.col, seed, "collision")
		out[1] = append(out[1], collide(u, v, 0))
		out[2] = append(out[2], collide(u, v, 1))
		out[3] = append(out[3], swap(u, collisionValue(u.col, seed, "swap")))
	}
	return out
}
