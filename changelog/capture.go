package changelog

import (
	"context"
	"fmt"
	"strings"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/schema"
)

// CaptureSQL is the statement a capture trigger runs to log one write of a
// row: a changelog row for table tableID, op and column col (0: none, for
// an insert or a delete), keyed by keys, one SQL expression per key column
// (such as NEW."id"). The triggers package writes the triggers; the shape
// of the row they log is this package's.
func CaptureSQL(tableID int64, op change.Op, col int64, keys []string) string {
	names := []string{"tbl", "op"}
	vals := []string{fmt.Sprint(tableID), fmt.Sprint(int(op))}
	if col != 0 {
		names, vals = append(names, "col"), append(vals, fmt.Sprint(col))
	}
	for i, k := range keys {
		names = append(names, fmt.Sprintf("k%d", i))
		vals = append(vals, k)
	}
	return fmt.Sprintf("INSERT INTO _sync_changelog (%s) VALUES (%s)",
		strings.Join(names, ", "), strings.Join(vals, ", "))
}

// LogBaseline logs, once per table, the rows t held before it was tracked,
// as inserts with write time 0, and returns how many: the first sync then
// ships them, and any real write wins over them. It does nothing for a
// table whose baseline is logged already.
func LogBaseline(ctx context.Context, tx *sqlx.Tx, t Tracked) (int64, error) {
	var done bool
	if err := tx.GetContext(ctx, &done, `SELECT baseline FROM _sync_tables WHERE id = ?`, t.ID); err != nil {
		return 0, err
	}
	if done {
		return 0, nil
	}
	cols := []string{"tbl", "op", "at"}
	keys := []string{"?1", "1", "0"}
	var keyCols, logKeys, notNull []string
	for i, k := range t.Table.Key {
		cols = append(cols, fmt.Sprintf("k%d", i))
		keys = append(keys, schema.Ident(k))
		keyCols = append(keyCols, schema.Ident(k))
		logKeys = append(logKeys, fmt.Sprintf("k%d", i))
		notNull = append(notNull, fmt.Sprintf("k%d IS NOT NULL", i))
	}
	// Rows the triggers logged as inserted since install travel with
	// their own changes; logging them again would send them twice. A row
	// only updated since needs its baseline: the update carries only the
	// columns it changed.
	res, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO _sync_changelog (%s) SELECT %s FROM %s
		WHERE (%s) NOT IN (SELECT %s FROM _sync_changelog WHERE tbl = ?1 AND op = 1 AND %s)`,
		strings.Join(cols, ", "), strings.Join(keys, ", "), schema.Ident(t.Table.Name),
		strings.Join(keyCols, ", "), strings.Join(logKeys, ", "), strings.Join(notNull, " AND ")), t.ID)
	if err != nil {
		return 0, fmt.Errorf("baseline of %s: %w", t.Table.Name, err)
	}
	n, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `UPDATE _sync_tables SET baseline = 1 WHERE id = ?`, t.ID); err != nil {
		return 0, err
	}
	return n, nil
}

// LogSQL is the statement that logs one change with bound values: tbl,
// op, col (NULL: none) and the keyCols values of the row's key. A merge
// logs with it the rows whose clocks it changed.
func LogSQL(keyCols int) string {
	names := []string{"tbl", "op", "col"}
	for i := range keyCols {
		names = append(names, fmt.Sprintf("k%d", i))
	}
	return fmt.Sprintf(`INSERT INTO _sync_changelog (%s) VALUES (%s)`, strings.Join(names, ", "),
		strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", "))
}
