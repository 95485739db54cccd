package main

import (
	"encoding/hex"
	"strconv"
	"unicode/utf8"

	"github.com/deltasync/deltasync/change"
)

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
		return map[string]any{"real": change.Literal(v)}
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
