package schema

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"
)

// InternalPrefix starts the name of every table and trigger deltasync owns.
const InternalPrefix = "_sync_"

// Filter narrows the tables Read returns as tracked. Names are matched the
// way SQLite matches them: ASCII case-insensitively.
type Filter struct {
	Only    []string // if set, track only these tables
	Exclude []string // never track these tables
}

// UnknownTableError reports a table named in a Filter that the database does not have.
type UnknownTableError struct {
	List string // "only" or "exclude": which list of the Filter
	Name string
}

func (e *UnknownTableError) Error() string {
	return fmt.Sprintf("the %s list names table %q, which the database does not have", e.List, e.Name)
}

// UntrackableTableError reports a table named in Filter.Only that cannot be tracked.
type UntrackableTableError struct {
	Name, Reason string
}

func (e *UntrackableTableError) Error() string {
	return fmt.Sprintf("the only list names table %q, which cannot be tracked: %s", e.Name, e.Reason)
}

type tableListRow struct {
	Name   string `db:"name"`
	Type   string `db:"type"`
	WR     bool   `db:"wr"`
	Strict bool   `db:"strict"`
}

type columnRow struct {
	Name    string `db:"name"`
	Type    string `db:"type"`
	NotNull bool   `db:"notnull"`
	PK      int    `db:"pk"`
	Hidden  int    `db:"hidden"`
}

// Read reads the main schema of db and sorts its tables into tracked and
// skipped. It returns an error if f names a table that does not exist or, in
// Only, one that cannot be tracked.
func Read(ctx context.Context, db sqlx.QueryerContext, f Filter) (*Schema, error) {
	var list []tableListRow
	err := sqlx.SelectContext(ctx, db, &list,
		`SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read table list: %w", err)
	}
	if err := checkFilterNames(list, f); err != nil {
		return nil, err
	}
	modules, shadows, err := virtualTables(ctx, db, list)
	if err != nil {
		return nil, err
	}
	s := &Schema{}
	for _, row := range list {
		if row.Type == "view" || silent(row.Name) {
			continue
		}
		if owner, ok := shadows[strings.ToLower(row.Name)]; ok {
			s.Skipped = append(s.Skipped, Skipped{Name: row.Name, Reason: "shadow table of virtual table " + owner + ": the virtual table maintains it"})
			continue
		}
		if row.Type == "virtual" {
			s.Skipped = append(s.Skipped, Skipped{Name: row.Name,
				Reason: "virtual table (module " + modules[row.Name] + "): SQLite cannot put triggers on it"})
			continue
		}
		if reason := skipReason(row, f); reason != "" {
			s.Skipped = append(s.Skipped, Skipped{Name: row.Name, Reason: reason})
			continue
		}
		t, reason, err := readTable(ctx, db, row)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			s.Skipped = append(s.Skipped, Skipped{Name: row.Name, Reason: reason})
			continue
		}
		s.Tables = append(s.Tables, t)
	}
	if err := checkOnlyTracked(s, f); err != nil {
		return nil, err
	}
	sort.Slice(s.Skipped, func(i, j int) bool { return s.Skipped[i].Name < s.Skipped[j].Name })
	return s, nil
}

func checkFilterNames(list []tableListRow, f Filter) error {
	has := func(name string) bool {
		for _, row := range list {
			if row.Type != "view" && sameName(row.Name, name) {
				return true
			}
		}
		return false
	}
	for _, n := range f.Only {
		if !has(n) {
			return &UnknownTableError{List: "only", Name: n}
		}
	}
	for _, n := range f.Exclude {
		if !has(n) {
			return &UnknownTableError{List: "exclude", Name: n}
		}
	}
	return nil
}

func checkOnlyTracked(s *Schema, f Filter) error {
	for _, n := range f.Only {
		for _, sk := range s.Skipped {
			if sameName(sk.Name, n) {
				return &UntrackableTableError{Name: sk.Name, Reason: sk.Reason}
			}
		}
		if silent(n) {
			return &UntrackableTableError{Name: n, Reason: "SQLite internal table"}
		}
	}
	return nil
}

// silent reports the tables Read neither tracks nor lists as skipped:
// SQLite's schema table, which every database has.
func silent(name string) bool {
	lower := strings.ToLower(name)
	return lower == "sqlite_schema" || lower == "sqlite_master" || lower == "sqlite_temp_schema"
}

// shadowSuffixes are the shadow tables each built-in virtual table module
// creates, named <virtual table>_<suffix>. PRAGMA table_list marks them as
// shadow tables only when the module is loaded in the reading connection.
var shadowSuffixes = map[string][]string{
	"fts3":    {"content", "segments", "segdir", "docsize", "stat"},
	"fts4":    {"content", "segments", "segdir", "docsize", "stat"},
	"fts5":    {"data", "idx", "content", "docsize", "config"},
	"rtree":   {"node", "rowid", "parent"},
	"geopoly": {"node", "rowid", "parent"},
}

// virtualTables returns the module of each virtual table, and maps the
// lower-cased name of each shadow table to the virtual table it belongs to.
func virtualTables(ctx context.Context, db sqlx.QueryerContext, list []tableListRow) (modules, shadows map[string]string, err error) {
	modules, shadows = map[string]string{}, map[string]string{}
	for _, row := range list {
		if row.Type != "virtual" {
			continue
		}
		var sql string
		err := sqlx.GetContext(ctx, db, &sql, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`, row.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("read definition of virtual table %s: %w", Ident(row.Name), err)
		}
		modules[row.Name] = virtualModule(sql)
		for _, suffix := range shadowSuffixes[modules[row.Name]] {
			shadows[strings.ToLower(row.Name+"_"+suffix)] = row.Name
		}
	}
	return modules, shadows, nil
}

// virtualModule returns the lower-cased module name of a CREATE VIRTUAL
// TABLE statement: the word after USING, once the (possibly quoted and
// schema-qualified) table name is skipped.
func virtualModule(create string) string {
	rest := strings.TrimSpace(create)
	for _, word := range []string{"create", "virtual", "table"} {
		rest = strings.TrimSpace(rest)
		if len(rest) < len(word) || !strings.EqualFold(rest[:len(word)], word) {
			return ""
		}
		rest = rest[len(word):]
	}
	rest = strings.TrimSpace(rest)
	if len(rest) >= 13 && strings.EqualFold(rest[:13], "if not exists") {
		rest = strings.TrimSpace(rest[13:])
	}
	for {
		rest = skipIdent(rest)
		if !strings.HasPrefix(rest, ".") {
			break
		}
		rest = strings.TrimSpace(rest[1:])
	}
	rest = strings.TrimSpace(rest)
	if len(rest) < 5 || !strings.EqualFold(rest[:5], "using") {
		return ""
	}
	rest = strings.TrimSpace(rest[5:])
	end := strings.IndexFunc(rest, func(r rune) bool { return !isIdentRune(r) })
	if end >= 0 {
		rest = rest[:end]
	}
	return strings.ToLower(rest)
}

// skipIdent returns s after its leading identifier, quoted or bare.
func skipIdent(s string) string {
	if s == "" {
		return s
	}
	closer := map[byte]byte{'"': '"', '`': '`', '[': ']'}[s[0]]
	if closer == 0 {
		end := strings.IndexFunc(s, func(r rune) bool { return !isIdentRune(r) })
		if end < 0 {
			return ""
		}
		return s[end:]
	}
	for i := 1; i < len(s); i++ {
		if s[i] != closer {
			continue
		}
		if closer != ']' && i+1 < len(s) && s[i+1] == closer {
			i++ // a doubled quote inside the name
			continue
		}
		return s[i+1:]
	}
	return ""
}

func isIdentRune(r rune) bool {
	return r == '_' || r == '$' || r >= 0x80 || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
}

// skipReason says why a table is not tracked, from what the table list alone tells.
func skipReason(row tableListRow, f Filter) string {
	lower := strings.ToLower(row.Name)
	switch {
	case row.Type == "shadow":
		return "shadow table of a virtual table (such as an FTS index): the virtual table maintains it"
	case strings.HasPrefix(lower, "sqlite_"):
		return "SQLite internal table"
	case strings.HasPrefix(lower, InternalPrefix):
		return "the name prefix " + InternalPrefix + " is reserved for deltasync's own tables"
	case containsName(f.Exclude, row.Name):
		return "excluded (the exclude list names it)"
	case len(f.Only) > 0 && !containsName(f.Only, row.Name):
		return "not in the only list"
	}
	return ""
}

func readTable(ctx context.Context, db sqlx.QueryerContext, row tableListRow) (Table, string, error) {
	var cols []columnRow
	err := sqlx.SelectContext(ctx, db, &cols,
		`SELECT name, type, "notnull", pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid`, row.Name)
	if err != nil {
		return Table{}, "", fmt.Errorf("read columns of %s: %w", Ident(row.Name), err)
	}
	t := Table{Name: row.Name, WithoutRowid: row.WR, Strict: row.Strict}
	for _, c := range cols {
		t.Columns = append(t.Columns, Column{
			Name:      c.Name,
			Type:      c.Type,
			NotNull:   c.NotNull,
			KeyIndex:  c.PK,
			Generated: c.Hidden == 2 || c.Hidden == 3,
		})
	}
	reason := setKey(&t)
	if reason == "" {
		if err := readDDL(ctx, db, &t); err != nil {
			return Table{}, "", err
		}
	}
	return t, reason, nil
}

// readDDL reads the statements that create t and its explicit indexes.
func readDDL(ctx context.Context, db sqlx.QueryerContext, t *Table) error {
	var rows []struct {
		Type string `db:"type"`
		SQL  string `db:"sql"`
	}
	err := sqlx.SelectContext(ctx, db, &rows, `SELECT type, sql FROM sqlite_schema
		WHERE tbl_name = ? AND type IN ('table', 'index') AND sql IS NOT NULL ORDER BY type = 'index', name`, t.Name)
	if err != nil {
		return fmt.Errorf("read definition of %s: %w", Ident(t.Name), err)
	}
	for _, r := range rows {
		if r.Type == "table" {
			t.SQL = r.SQL
		} else {
			t.Indexes = append(t.Indexes, r.SQL)
		}
	}
	return nil
}

// setKey decides how rows of t are identified, or returns why they cannot be.
func setKey(t *Table) string {
	var key []Column
	for _, c := range t.Columns {
		if c.KeyIndex > 0 {
			key = append(key, c)
		}
	}
	sort.Slice(key, func(i, j int) bool { return key[i].KeyIndex < key[j].KeyIndex })
	switch {
	case len(key) > MaxKeyColumns:
		return fmt.Sprintf("primary key has %d columns; deltasync supports at most %d", len(key), MaxKeyColumns)
	case len(key) == 0:
		name := rowidName(t.Columns)
		if name == "" {
			return "no primary key, and columns named rowid, oid and _rowid_ hide the rowid"
		}
		t.Key, t.KeyKind = []string{name}, KeyRowid
		return ""
	}
	for _, c := range key {
		t.Key = append(t.Key, c.Name)
	}
	switch {
	case t.WithoutRowid:
		t.KeyKind = KeyWithoutRowid
	case len(key) == 1 && strings.EqualFold(key[0].Type, "INTEGER"):
		t.KeyKind = KeyRowidAlias
	default:
		t.KeyKind = KeyDeclared
	}
	return ""
}

// rowidName returns a name that refers to the rowid of a table with these
// columns: SQLite lets a real column shadow each of the three.
func rowidName(cols []Column) string {
	for _, candidate := range []string{"rowid", "oid", "_rowid_"} {
		shadowed := false
		for _, c := range cols {
			if sameName(c.Name, candidate) {
				shadowed = true
			}
		}
		if !shadowed {
			return candidate
		}
	}
	return ""
}

func containsName(names []string, name string) bool {
	for _, n := range names {
		if sameName(n, name) {
			return true
		}
	}
	return false
}

// sameName compares identifiers the way SQLite does: case-insensitively for ASCII only.
func sameName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
