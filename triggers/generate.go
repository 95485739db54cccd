package triggers

import (
	"fmt"
	"strings"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/schema"
)

// Trigger is one generated trigger.
type Trigger struct {
	Name string
	SQL  string // the CREATE TRIGGER statement, without a trailing semicolon
}

// namePrefix starts the name of every trigger of the table with this id.
func namePrefix(tableID int64) string {
	return fmt.Sprintf("%s%d_", schema.InternalPrefix, tableID)
}

// Generate returns the triggers that capture writes to t. It is a pure
// function of its arguments.
func Generate(t schema.Table, reg changelog.Registration) []Trigger {
	p := namePrefix(reg.TableID)
	out := []Trigger{
		{p + "ins", rowTrigger(p+"ins", "INSERT", t, reg.TableID, change.Insert, "NEW")},
		{p + "del", rowTrigger(p+"del", "DELETE", t, reg.TableID, change.Delete, "OLD")},
	}
	for _, c := range t.Writable() {
		if t.IsKey(c.Name) {
			continue
		}
		name := fmt.Sprintf("%supd_%d", p, reg.ColumnIDs[c.Name])
		out = append(out, Trigger{name, columnTrigger(name, t, c, reg)})
	}
	// Created last so that it fires first: SQLite runs the triggers of one
	// event newest first, and the delete and insert of a key change must be
	// logged before the updates of the new key's other columns.
	if t.KeyKind != schema.KeyRowid {
		out = append(out, Trigger{p + "key", keyTrigger(p+"key", t, reg.TableID)})
	}
	return out
}

func rowTrigger(name, event string, t schema.Table, tableID int64, op change.Op, row string) string {
	return fmt.Sprintf("CREATE TRIGGER %s AFTER %s ON %s BEGIN\n  %s;\nEND",
		schema.Ident(name), event, schema.Ident(t.Name), logRow(t, tableID, op, 0, row))
}

// keyTrigger logs a change of the primary key as a delete and an insert.
func keyTrigger(name string, t schema.Table, tableID int64) string {
	cols := make([]string, len(t.Key))
	changed := make([]string, len(t.Key))
	for i, k := range t.Key {
		cols[i] = schema.Ident(k)
		changed[i] = changedExpr(t, columnByName(t, k))
	}
	return fmt.Sprintf("CREATE TRIGGER %s AFTER UPDATE OF %s ON %s WHEN %s BEGIN\n  %s;\n  %s;\nEND",
		schema.Ident(name), strings.Join(cols, ", "), schema.Ident(t.Name), strings.Join(changed, " OR "),
		logRow(t, tableID, change.Delete, 0, "OLD"), logRow(t, tableID, change.Insert, 0, "NEW"))
}

func columnTrigger(name string, t schema.Table, c schema.Column, reg changelog.Registration) string {
	return fmt.Sprintf("CREATE TRIGGER %s AFTER UPDATE OF %s ON %s WHEN %s BEGIN\n  %s;\nEND",
		schema.Ident(name), schema.Ident(c.Name), schema.Ident(t.Name), changedExpr(t, c),
		logRow(t, reg.TableID, change.Update, reg.ColumnIDs[c.Name], "NEW"))
}

// logRow is the INSERT into the changelog for one row, keyed by row's key
// (row is NEW or OLD).
func logRow(t schema.Table, tableID int64, op change.Op, col int64, row string) string {
	keys := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = row + "." + schema.Ident(k)
	}
	return changelog.CaptureSQL(tableID, op, col, keys)
}

// changedExpr is true when an update gave column c a different value. IS NOT
// treats NULLs as values; COLLATE BINARY keeps a case change in a NOCASE
// column a change. Where the affinity lets the storage class change while
// the value compares equal (1 and 1.0 in an untyped column), typeof decides.
func changedExpr(t schema.Table, c schema.Column) string {
	col := schema.Ident(c.Name)
	expr := fmt.Sprintf("OLD.%s IS NOT NEW.%s COLLATE BINARY", col, col)
	if c.Affinity() == schema.AffinityBlob {
		expr += fmt.Sprintf(" OR typeof(OLD.%s) <> typeof(NEW.%s)", col, col)
	}
	return expr
}

func columnByName(t schema.Table, name string) schema.Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return schema.Column{Name: name}
}
