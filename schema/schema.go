package schema

import "strings"

// MaxKeyColumns is the widest primary key deltasync can track. The changelog
// stores a key in that many untyped columns (see package changelog).
const MaxKeyColumns = 4

// KeyKind says how a table's rows are identified.
type KeyKind int

const (
	// KeyRowidAlias: an INTEGER PRIMARY KEY column, which is the rowid.
	KeyRowidAlias KeyKind = iota + 1
	// KeyDeclared: a declared primary key on a rowid table that is not the rowid.
	KeyDeclared
	// KeyWithoutRowid: the primary key of a WITHOUT ROWID table.
	KeyWithoutRowid
	// KeyRowid: no declared primary key; rows are identified by their rowid.
	KeyRowid
)

func (k KeyKind) String() string {
	switch k {
	case KeyRowidAlias:
		return "integer primary key"
	case KeyDeclared:
		return "primary key"
	case KeyWithoutRowid:
		return "primary key, without rowid"
	case KeyRowid:
		return "no primary key"
	}
	return "unknown"
}

// Affinity is a column's type affinity, as SQLite derives it from the
// declared type (https://sqlite.org/datatype3.html#determination_of_column_affinity).
type Affinity string

const (
	AffinityInteger Affinity = "INTEGER"
	AffinityText    Affinity = "TEXT"
	AffinityBlob    Affinity = "BLOB"
	AffinityReal    Affinity = "REAL"
	AffinityNumeric Affinity = "NUMERIC"
)

// Column is one column of a table.
type Column struct {
	Name      string
	Type      string // declared type, as written
	NotNull   bool
	KeyIndex  int  // 1-based position in the primary key, 0 if not part of it
	Generated bool // GENERATED ALWAYS AS (VIRTUAL or STORED): never written by deltasync
}

// Affinity returns the column's affinity. In a STRICT table a column declared
// ANY keeps every value's storage class, which is what BLOB affinity means.
func (c Column) Affinity() Affinity {
	t := strings.ToUpper(c.Type)
	switch {
	case strings.Contains(t, "INT"):
		return AffinityInteger
	case strings.Contains(t, "CHAR"), strings.Contains(t, "CLOB"), strings.Contains(t, "TEXT"):
		return AffinityText
	case t == "" || t == "ANY" || strings.Contains(t, "BLOB"):
		return AffinityBlob
	case strings.Contains(t, "REAL"), strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"):
		return AffinityReal
	}
	return AffinityNumeric
}

// Table is one table deltasync can track.
type Table struct {
	Name         string
	Columns      []Column // every column in declaration order, generated ones included
	Key          []string // key column names in key order; for KeyRowid the rowid name to use
	KeyKind      KeyKind
	WithoutRowid bool
	Strict       bool
	// SQL is the table's CREATE TABLE statement as SQLite keeps it, and
	// Indexes the CREATE INDEX statements of its explicit indexes, in name
	// order (constraint indexes are implied by SQL). They are what a hub
	// builds its replica from, and the fingerprint covers them.
	SQL     string
	Indexes []string
}

// Writable returns the columns replay writes: every column that is not generated.
func (t Table) Writable() []Column {
	cols := make([]Column, 0, len(t.Columns))
	for _, c := range t.Columns {
		if !c.Generated {
			cols = append(cols, c)
		}
	}
	return cols
}

// IsKey reports whether the named column is part of the table's key.
func (t Table) IsKey(name string) bool {
	for _, k := range t.Key {
		if k == name {
			return true
		}
	}
	return false
}

// NullableKey reports whether a key column may hold NULL: SQLite allows it
// in the primary key of a rowid table unless it is INTEGER PRIMARY KEY or
// declared NOT NULL. A NULL key names no row, so such rows cannot be synced.
func (t Table) NullableKey() bool {
	if t.KeyKind != KeyDeclared {
		return false
	}
	for _, c := range t.Columns {
		if c.KeyIndex > 0 && !c.NotNull {
			return true
		}
	}
	return false
}

// Warnings returns what a user should know before syncing this table, as
// sentences `init` prints.
func (t Table) Warnings() []string {
	var w []string
	if t.NullableKey() {
		w = append(w, "the primary key allows NULL (SQLite permits it unless declared NOT NULL): "+
			"rows whose key is NULL are not captured; declare the key NOT NULL to be sure every row syncs")
	}
	return append(w, t.keyWarnings()...)
}

func (t Table) keyWarnings() []string {
	switch t.KeyKind {
	case KeyRowid:
		return []string{
			"no declared primary key: rows are keyed by rowid, which VACUUM may renumber; " +
				"inserts on two devices can pick the same rowid (the losing row is kept as a conflict)",
		}
	case KeyRowidAlias:
		return []string{
			"integer primary key " + Ident(t.Key[0]) + " is allocated by SQLite: " +
				"inserts on two devices can pick the same key (the losing row is kept as a conflict)",
		}
	}
	return nil
}

// Skipped is a table deltasync does not track, with the reason.
type Skipped struct {
	Name   string
	Reason string
}

// Schema is what Read found in a database.
type Schema struct {
	Tables  []Table   // tables to track, in name order
	Skipped []Skipped // tables not tracked, in name order
}

// Table returns the tracked table with the given name.
func (s *Schema) Table(name string) (Table, bool) {
	for _, t := range s.Tables {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}
