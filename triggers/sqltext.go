package triggers

import (
	"fmt"
	"strings"
)

// token is one SQL token of a statement's text: a word, a quoted name, a
// literal or one punctuation character. Whitespace and comments are not
// tokens. start and end are byte offsets into the text.
type token struct {
	text       string
	start, end int
	kind       tokenKind
}

type tokenKind int

const (
	tokWord   tokenKind = iota // a keyword or a bare name
	tokQuoted                  // "name", `name` or [name]
	tokString                  // 'text', also a name where SQLite takes one
	tokOther                   // a number, a blob, a parameter, punctuation
)

// is reports whether t is the keyword kw (given in upper case). Quoted
// names are never keywords.
func (t token) is(kw string) bool {
	return t.kind == tokWord && strings.EqualFold(t.text, kw)
}

// name is the identifier t spells, unquoted, or "" if t is no name.
func (t token) name() string {
	switch t.kind {
	case tokWord:
		return t.text
	case tokString:
		return strings.ReplaceAll(t.text[1:len(t.text)-1], "''", "'")
	case tokQuoted:
		inner := t.text[1 : len(t.text)-1]
		switch t.text[0] {
		case '"':
			return strings.ReplaceAll(inner, `""`, `"`)
		case '`':
			return strings.ReplaceAll(inner, "``", "`")
		}
		return inner // [name] has no escape
	}
	return ""
}

// tokenize splits SQL text into tokens the way SQLite's tokenizer does, as
// far as finding keywords, names, parentheses and semicolons needs: it
// skips comments and never looks into a quoted name or a string.
func tokenize(sql string) ([]token, error) {
	var out []token
	for i := 0; i < len(sql); {
		n, kind, err := tokenAt(sql, i)
		if err != nil {
			return nil, err
		}
		if kind >= 0 {
			out = append(out, token{text: sql[i : i+n], start: i, end: i + n, kind: tokenKind(kind)})
		}
		i += n
	}
	return out, nil
}

// tokenAt returns the length and kind of the token at sql[i:], kind -1 for
// whitespace and comments.
func tokenAt(sql string, i int) (int, int, error) {
	c := sql[i]
	switch {
	case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
		return 1, -1, nil
	case strings.HasPrefix(sql[i:], "--"):
		if j := strings.IndexByte(sql[i:], '\n'); j >= 0 {
			return j + 1, -1, nil
		}
		return len(sql) - i, -1, nil
	case strings.HasPrefix(sql[i:], "/*"):
		if j := strings.Index(sql[i+2:], "*/"); j >= 0 {
			return j + 4, -1, nil
		}
		return len(sql) - i, -1, nil // SQLite ends an open comment at the end of input
	case c == '\'':
		n, err := quotedLen(sql, i, '\'')
		return n, int(tokString), err
	case c == '"' || c == '`':
		n, err := quotedLen(sql, i, c)
		return n, int(tokQuoted), err
	case c == '[':
		j := strings.IndexByte(sql[i:], ']')
		if j < 0 {
			return 0, 0, fmt.Errorf("unterminated [name] at byte %d", i)
		}
		return j + 1, int(tokQuoted), nil
	case (c == 'x' || c == 'X') && i+1 < len(sql) && sql[i+1] == '\'':
		n, err := quotedLen(sql, i+1, '\'')
		return n + 1, int(tokOther), err
	case isNameByte(c) && !isDigit(c):
		return wordLen(sql, i), int(tokWord), nil
	case isDigit(c) || c == '.' && i+1 < len(sql) && isDigit(sql[i+1]):
		return numberLen(sql, i), int(tokOther), nil
	case c == '$' || c == '@' || c == ':' || c == '#':
		return 1 + max(0, wordLen(sql, i+1)), int(tokOther), nil
	}
	return 1, int(tokOther), nil
}

// quotedLen is the length of the text quoted by q at sql[i], where a
// doubled q stands for one.
func quotedLen(sql string, i int, q byte) (int, error) {
	for j := i + 1; j < len(sql); j++ {
		if sql[j] != q {
			continue
		}
		if j+1 < len(sql) && sql[j+1] == q {
			j++
			continue
		}
		return j + 1 - i, nil
	}
	return 0, fmt.Errorf("unterminated %c at byte %d", q, i)
}

// wordLen is the length of the bare name at sql[i:]: SQLite takes letters,
// digits, '_', '$' and every byte of a multi-byte UTF-8 character.
func wordLen(sql string, i int) int {
	j := i
	for j < len(sql) && (isNameByte(sql[j]) || sql[j] == '$') {
		j++
	}
	return j - i
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_' || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// numberLen is the length of the number at sql[i:], exponent included.
func numberLen(sql string, i int) int {
	j := i
	for j < len(sql) {
		c := sql[j]
		switch {
		case isNameByte(c) || c == '.':
			j++
		case (c == '+' || c == '-') && (sql[j-1] == 'e' || sql[j-1] == 'E'):
			j++
		default:
			return j - i
		}
	}
	return j - i
}
