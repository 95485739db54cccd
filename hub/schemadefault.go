package hub

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// defaultFunctions may appear in a column's DEFAULT, and nowhere else of a
// schema. The hub never evaluates a DEFAULT: a push inserts whole rows.
// But real schemas make ids with them, as in DEFAULT (lower(hex(
// randomblob(16)))), and in a CHECK, generated column or index they
// would make a large value out of a small row (see cheapFunctions).
var defaultFunctions = setOf("randomblob", "hex", "random")

// checkDefaultOnly refuses a statement that called a function of
// defaultFunctions anywhere but in its columns' DEFAULTs. The authorizer
// does not say where a function is, so the check is textual, and errs
// only towards refusing: SQLite keeps each DEFAULT's exact source text
// (pragma_table_xinfo's dflt_value, a part of the statement; a generated
// column's expression is not there), and every call names its function,
// so the name must occur in the statement no more often than in its
// DEFAULTs. A name in a comment or string elsewhere is refused too.
func (g *ddlGuard) checkDefaultOnly(ctx context.Context, conn *sql.Conn, stmt string) error {
	g.mu.Lock()
	names := make([]string, 0, len(g.deferred))
	for name := range g.deferred {
		names = append(names, name)
	}
	table := g.table
	g.mu.Unlock()
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	defaults, err := g.defaultsOf(ctx, conn, table)
	if err != nil {
		return err
	}
	for _, name := range names {
		word := regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(name) + `\b`)
		inDefaults := 0
		for _, d := range defaults {
			inDefaults += len(word.FindAllStringIndex(d, -1))
		}
		if table == "" || len(word.FindAllStringIndex(stmt, -1)) > inDefaults {
			return fmt.Errorf("function %s is allowed in a column's DEFAULT only: "+
				"a schema may call only the cheap functions that SECURITY.md lists", name)
		}
	}
	return nil
}

// defaultsOf returns the DEFAULT texts of table's columns, read with the
// authorizer's trust: the hub's own query, not the schema's.
func (g *ddlGuard) defaultsOf(ctx context.Context, conn *sql.Conn, table string) ([]string, error) {
	if table == "" {
		return nil, nil
	}
	g.setTrusted(true)
	defer g.setTrusted(false)
	rows, err := conn.QueryContext(ctx, `SELECT dflt_value FROM pragma_table_xinfo(?) WHERE dflt_value IS NOT NULL`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		out = append(out, strings.TrimSpace(d))
	}
	return out, rows.Err()
}

func (g *ddlGuard) setTrusted(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.trusted = on
}
