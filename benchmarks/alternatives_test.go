package benchmarks_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/schema"
)

// BenchmarkAlternatives measures the ways a trigger could store a change,
// each against plain SQLite in the same run (<variant>-x-plain):
//
//   - key-only: what deltasync installs (triggers.Install): table id, op,
//     column id and key; values are read from the table when a range is read.
//   - key-only-hand: the same triggers written by hand into alt_log, the
//     log the other alternatives share: the control for them.
//   - values-json: key-only-hand plus the whole new row as json_array (the BLOB as
//     hex: JSON cannot hold one) in the log row, on insert and update.
//   - values-row: key-only-hand plus the whole new row, untyped, in a per-table
//     log with the table's columns: exact values, BLOB included.
//   - update-mask: one AFTER UPDATE trigger per table logging a
//     changed-columns bitmask, instead of one AFTER UPDATE OF trigger per column.
//   - guard: key-only-hand plus WHEN (SELECT applying FROM alt_state) = 0,
//     the echo-suppression guard deltasync does without.
//   - no-clock: key-only-hand without the write time (the at column's
//     DEFAULT julianday('now')): what the clock costs.
//
// A variant runs only for the ops where its triggers differ from
// key-only-hand's: on delete the values variants log the key alone, and
// update-mask changes only updates.
func BenchmarkAlternatives(b *testing.B) {
	keyOnly := deltasync
	keyOnly.name = "key-only"
	hand := design{}.variant("key-only-hand")
	json := design{values: "json"}.variant("values-json")
	row := design{values: "row"}.variant("values-row")
	mask := design{mask: true}.variant("update-mask")
	guard := design{guard: true}.variant("guard")
	noClock := design{noClock: true}.variant("no-clock")
	byOp := map[string][]variant{
		"insert": {plain, keyOnly, hand, json, row, guard, noClock},
		"update": {plain, keyOnly, hand, json, row, mask, guard, noClock},
		"delete": {plain, keyOnly, hand, guard, noClock},
	}
	for _, m := range []mode{exec1000, prepared1000, prepared1} {
		b.Run(m.name, func(b *testing.B) {
			for _, o := range ops {
				b.Run(o.name, func(b *testing.B) {
					compare(b, byOp[o.name], m, o)
				})
			}
		})
	}
}

// altDDL is the log the hand-written alternatives write: a copy of
// _sync_changelog (migrations/sql/0001_capture.up.sql) with a vals column,
// a per-table log for values-row, and the guard's one-row state table.
// %[1]s is the definition of the at column.
const altDDL = `
CREATE TABLE alt_log (
    version INTEGER PRIMARY KEY,
    tbl     INTEGER NOT NULL,
    op      INTEGER NOT NULL,
    col     INTEGER,
    at      %[1]s,
    k0, k1, k2, k3,
    vals
);
CREATE TABLE alt_log_items (
    version INTEGER PRIMARY KEY,
    op      INTEGER NOT NULL,
    col     INTEGER,
    at      %[1]s,
    id, title, body, n, score, data, updated_at
);
CREATE TABLE alt_state (applying INTEGER NOT NULL);
INSERT INTO alt_state (applying) VALUES (0);
`

// itemColumns are the items columns besides the key, numbered as deltasync
// numbers them (the key is column 1).
var itemColumns = []string{"title", "body", "n", "score", "data", "updated_at"}

// A design is one way for triggers on items to store a change. Its zero
// value writes by hand what triggers.Generate writes for items.
type design struct {
	values  string // "": key only; "json": json_array of the row in vals; "row": the row in alt_log_items
	mask    bool   // one AFTER UPDATE trigger with a changed-columns bitmask in col
	guard   bool   // every trigger is guarded by alt_state.applying = 0
	noClock bool   // the log has no write time
}

func (d design) variant(name string) variant {
	log := "alt_log"
	if d.values == "row" {
		log = "alt_log_items"
	}
	return variant{name: name, log: log, install: d.install}
}

func (d design) install(tb testing.TB, db *sqlx.DB) {
	tb.Helper()
	at := "REAL NOT NULL DEFAULT (julianday('now'))"
	if d.noClock {
		at = "REAL"
	}
	for _, stmt := range append([]string{fmt.Sprintf(altDDL, at)}, d.triggers()...) {
		if _, err := db.Exec(stmt); err != nil {
			tb.Fatalf("%v\n%s", err, stmt)
		}
	}
}

// triggers returns the design's CREATE TRIGGER statements, shaped like
// triggers.Generate's so that only the design's difference is measured.
func (d design) triggers() []string {
	id := schema.Ident("id")
	out := []string{
		d.trigger("alt_ins", "INSERT", "", d.log(opInsert, "", "NEW")),
		d.trigger("alt_del", "DELETE", "", d.log(opDelete, "", "OLD")),
	}
	if d.mask {
		out = append(out, d.trigger("alt_upd", "UPDATE", "", d.maskLog()))
	} else {
		for i, c := range itemColumns {
			col := fmt.Sprint(i + 2)
			out = append(out, d.trigger("alt_upd_"+col, "UPDATE OF "+schema.Ident(c), changed(c), d.log(opUpdate, col, "NEW")))
		}
	}
	return append(out, d.trigger("alt_key", "UPDATE OF "+id, changed("id"), d.log(opDelete, "", "OLD"), d.log(opInsert, "", "NEW")))
}

const (
	opInsert = "1"
	opUpdate = "2"
	opDelete = "3"
)

// trigger assembles one trigger; when is its condition, "" for none.
func (d design) trigger(name, event, when string, body ...string) string {
	if d.guard {
		const guard = `(SELECT applying FROM alt_state) = 0`
		if when == "" {
			when = guard
		} else {
			// The column test first: it is cheaper, and false for most columns.
			when = "(" + when + ") AND " + guard
		}
	}
	s := fmt.Sprintf("CREATE TRIGGER %s AFTER %s ON %s", schema.Ident(name), event, schema.Ident("items"))
	if when != "" {
		s += " WHEN " + when
	}
	return s + " BEGIN\n  " + strings.Join(body, ";\n  ") + ";\nEND"
}

// log is the INSERT of one change of the row (NEW or OLD) into the log.
func (d design) log(op, col, row string) string {
	names, vals := []string{"op"}, []string{op}
	if col != "" {
		names, vals = append(names, "col"), append(vals, col)
	}
	key := row + "." + schema.Ident("id")
	withRow := op != opDelete
	switch {
	case d.values == "row":
		names, vals = append(names, schema.Ident("id")), append(vals, key)
		if withRow {
			for _, c := range itemColumns {
				names, vals = append(names, schema.Ident(c)), append(vals, row+"."+schema.Ident(c))
			}
		}
		return insertInto("alt_log_items", names, vals)
	case d.values == "json" && withRow:
		names, vals = append(names, "k0", "vals"), append(vals, key, jsonRow(row))
	default:
		names, vals = append(names, "k0"), append(vals, key)
	}
	return insertInto("alt_log", append([]string{"tbl"}, names...), append([]string{"1"}, vals...))
}

// jsonRow is the row as a JSON array. json_array refuses a BLOB (the app's
// own write would fail), so data goes in as hex text: the log could not
// tell it from a TEXT value that looks like hex.
func jsonRow(row string) string {
	vals := make([]string, len(itemColumns))
	for i, c := range itemColumns {
		vals[i] = row + "." + schema.Ident(c)
		if c == "data" {
			vals[i] = "hex(" + vals[i] + ")"
		}
	}
	return "json_array(" + strings.Join(vals, ", ") + ")"
}

// maskLog logs an update with bit i of col set when column i+2 changed.
// Every update is logged, even one that changed nothing (mask 0): skipping
// those would take a WHEN that compares every column a second time.
func (d design) maskLog() string {
	bits := make([]string, len(itemColumns))
	for i, c := range itemColumns {
		bits[i] = fmt.Sprintf("((%s) << %d)", changed(c), i)
	}
	return insertInto("alt_log", []string{"tbl", "op", "col", "k0"},
		[]string{"1", opUpdate, strings.Join(bits, " | "), "NEW." + schema.Ident("id")})
}

// changed is triggers.changedExpr for the items columns: data is the one
// column with BLOB affinity, whose storage class can change alone.
func changed(c string) string {
	q := schema.Ident(c)
	expr := fmt.Sprintf("OLD.%s IS NOT NEW.%s COLLATE BINARY", q, q)
	if c == "data" {
		expr += fmt.Sprintf(" OR typeof(OLD.%s) <> typeof(NEW.%s)", q, q)
	}
	return expr
}

func insertInto(table string, names, vals []string) string {
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(names, ", "), strings.Join(vals, ", "))
}
