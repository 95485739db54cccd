package main

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// literal prints a value exactly, in SQL literal syntax where SQL has one:
// NULL, 42, 0.30000000000000004, -0.0, Inf, 'text' (quotes doubled), x'00ff'. TEXT that SQL
// cannot write as a plain literal (NUL, control bytes, invalid UTF-8) is
// printed as CAST(x'..' AS TEXT), which keeps every byte.
func literal(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return formatReal(v)
	case string:
		if plainText(v) {
			return "'" + strings.ReplaceAll(v, "'", "''") + "'"
		}
		return "CAST(x'" + hex.EncodeToString([]byte(v)) + "' AS TEXT)"
	case []byte:
		return "x'" + hex.EncodeToString(v) + "'"
	}
	return "?"
}

// formatReal prints the shortest text that reads back as the same bits, and
// always looks like a REAL.
func formatReal(f float64) string {
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

// jsonValue is a value in --json output. The storage class is the key, and
// the value is a string wherever a JSON number or string would lose
// something: int64 beyond 2^53, REAL bits, invalid UTF-8.
func jsonValue(v any) map[string]any {
	switch v := v.(type) {
	case nil:
		return map[string]any{"null": true}
	case int64:
		return map[string]any{"integer": strconv.FormatInt(v, 10)}
	case float64:
		return map[string]any{"real": formatReal(v)}
	case string:
		if utf8.ValidString(v) {
			return map[string]any{"text": v}
		}
		return map[string]any{"text_hex": hex.EncodeToString([]byte(v))}
	case []byte:
		return map[string]any{"blob_hex": hex.EncodeToString(v)}
	}
	return nil
}
