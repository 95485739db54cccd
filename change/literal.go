package change

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Literal prints a value as a SQLite literal that reads back as the same
// value and storage class: NULL, 42, 4.0, 'text', x'00ff'. A TEXT that is
// not plain printable UTF-8 prints as CAST(x'…' AS TEXT), so that every byte
// shows; a REAL prints as the shortest text that reads back as the same
// bits, and always looks like a REAL (1.0, not 1); infinities, which SQL
// has no literal for, print as Inf and -Inf. This is the one way
// deltasync prints a value: in errors, the CLI, `diff` and held rows.
func Literal(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return real(v)
	case string:
		if plainText(v) {
			return "'" + strings.ReplaceAll(v, "'", "''") + "'"
		}
		return "CAST(x'" + hex.EncodeToString([]byte(v)) + "' AS TEXT)"
	case []byte:
		return "x'" + hex.EncodeToString(v) + "'"
	}
	return fmt.Sprintf("%T(%v)", v, v) // not a SQLite value: say what it is
}

// KeyLiteral prints a row's key values as a parenthesised list: (1),
// ('a', x'00ff').
func KeyLiteral(key []any) string {
	parts := make([]string, len(key))
	for i, v := range key {
		parts[i] = Literal(v)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func real(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' {
			return false
		}
	}
	return true
}
