package schema

import "strings"

// Ident quotes an identifier for use in SQL: it wraps the name in double
// quotes and doubles any double quote inside it. Every identifier that
// deltasync puts into generated SQL goes through this function, so names with
// spaces, quotes, brackets, keywords or unicode are always safe.
func Ident(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// Literal quotes a string as an SQL string literal.
func Literal(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `''`) + `'`
}
