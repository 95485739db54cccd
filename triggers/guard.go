package triggers

import (
	"fmt"

	"github.com/deltasync/deltasync/changelog"
)

// parsedTrigger is an app's CREATE TRIGGER statement, read as far as
// guarding it needs: where its WHEN clause is, where its body begins, and
// which tables the body writes.
type parsedTrigger struct {
	sql    string
	toks   []token
	when   int      // index in toks of WHEN, -1 if the trigger has none
	begin  int      // index in toks of the BEGIN that opens the body
	writes []string // tables the body inserts into, updates or deletes from, as named there
}

// Guard returns the CREATE TRIGGER statement sql with changelog.NotApplying
// added to its WHEN clause, so that the trigger does not fire while
// deltasync applies a batch. The rest of the text is kept as the app wrote
// it. It is a pure function of sql.
func Guard(sql string) (string, error) {
	p, err := parseTrigger(sql)
	if err != nil {
		return "", err
	}
	return p.guarded(), nil
}

// guarded puts the guard first, so that an apply evaluates nothing of the
// app's own condition, and the app's condition in parentheses after it.
func (p *parsedTrigger) guarded() string {
	if p.when < 0 {
		b := p.toks[p.begin]
		return p.sql[:b.start] + "WHEN " + changelog.NotApplying + " " + p.sql[b.start:]
	}
	// Up to the end of the condition's last token: a comment after it
	// would swallow the closing parenthesis.
	w, first, last := p.toks[p.when], p.toks[p.when+1], p.toks[p.begin-1]
	return p.sql[:w.end] + " " + changelog.NotApplying + " AND (" + p.sql[first.start:last.end] + ")" + p.sql[last.end:]
}

// parseTrigger reads a CREATE TRIGGER statement as sqlite_schema keeps it.
func parseTrigger(sql string) (*parsedTrigger, error) {
	toks, err := tokenize(sql)
	if err != nil {
		return nil, err
	}
	p := &parsedTrigger{sql: sql, toks: toks, when: -1}
	if err := p.header(); err != nil {
		return nil, fmt.Errorf("read CREATE TRIGGER: %w", err)
	}
	if p.writes, err = bodyWrites(toks[p.begin+1:]); err != nil {
		return nil, fmt.Errorf("read trigger body: %w", err)
	}
	return p, nil
}

// header walks SQLite's grammar of a trigger's header:
//
//	CREATE [TEMP] TRIGGER [IF NOT EXISTS] name [BEFORE|AFTER|INSTEAD OF]
//	  DELETE|INSERT|UPDATE [OF col, ...] ON table [FOR EACH ROW] [WHEN expr] BEGIN
//
// Names are single tokens (a bare word may be a keyword, such as a column
// named "begin"), which is why the header is walked by position rather
// than searched for keywords.
func (p *parsedTrigger) header() error {
	r := &tokenReader{toks: p.toks}
	if !r.keyword("CREATE") {
		return fmt.Errorf("does not start with CREATE")
	}
	_ = r.keyword("TEMP") || r.keyword("TEMPORARY")
	if !r.keyword("TRIGGER") {
		return fmt.Errorf("no TRIGGER after CREATE")
	}
	if r.peek(0).is("IF") && r.peek(1).is("NOT") {
		r.i += 3 // IF NOT EXISTS
	}
	if !r.qualifiedName() {
		return fmt.Errorf("no trigger name")
	}
	if err := r.event(); err != nil {
		return err
	}
	if !r.keyword("ON") || !r.qualifiedName() {
		return fmt.Errorf("no ON table")
	}
	if r.keyword("FOR") && !(r.keyword("EACH") && r.keyword("ROW")) {
		return fmt.Errorf("FOR without EACH ROW")
	}
	if r.peek(0).is("WHEN") {
		p.when = r.i
		r.i++
		return p.bodyAfterCondition(r)
	}
	if !r.peek(0).is("BEGIN") {
		return fmt.Errorf("no BEGIN after the header")
	}
	p.begin = r.i
	return nil
}

// bodyAfterCondition finds the BEGIN that ends a WHEN condition: the first
// BEGIN outside parentheses that is not a column name after a dot.
func (p *parsedTrigger) bodyAfterCondition(r *tokenReader) error {
	depth := 0
	for i := r.i; i < len(p.toks); i++ {
		t := p.toks[i]
		depth += parenDelta(t)
		if depth == 0 && t.is("BEGIN") && i > r.i && p.toks[i-1].text != "." {
			p.begin = i
			return nil
		}
	}
	return fmt.Errorf("no BEGIN after the WHEN condition")
}

// bodyWrites returns the table each statement of a trigger body writes, in
// order, once each. The body is the tokens after BEGIN; its statements end
// at semicolons outside parentheses.
func bodyWrites(body []token) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	start, depth := 0, 0
	for i, t := range body {
		depth += parenDelta(t)
		if depth != 0 || t.text != ";" {
			continue
		}
		name, err := writtenTable(body[start:i])
		if err != nil {
			return nil, err
		}
		if name != "" && !seen[asciiLower(name)] {
			seen[asciiLower(name)] = true
			out = append(out, name)
		}
		start = i + 1
	}
	return out, nil
}

// writtenTable returns the table one statement of a trigger body writes, or
// "" for a SELECT (such as a validation's RAISE). Its verb is the first of
// INSERT, REPLACE, UPDATE, DELETE, SELECT or VALUES outside parentheses,
// which skips a WITH clause; the table follows at a place fixed by the verb.
// A trigger body cannot name another schema's table, so the name is one token.
func writtenTable(stmt []token) (string, error) {
	depth := 0
	for i, t := range stmt {
		depth += parenDelta(t)
		if depth != 0 || t.kind != tokWord {
			continue
		}
		r := &tokenReader{toks: stmt, i: i + 1}
		if next := r.peek(0); next.is("AS") || next.text == "(" {
			continue // a common table expression or a function named like a verb
		}
		switch {
		case t.is("SELECT") || t.is("VALUES"):
			return "", nil
		case t.is("INSERT") || t.is("UPDATE"):
			if r.keyword("OR") {
				r.i++ // ROLLBACK, ABORT, REPLACE, FAIL or IGNORE
			}
			if t.is("INSERT") && !r.keyword("INTO") {
				return "", fmt.Errorf("INSERT without INTO")
			}
		case t.is("REPLACE"):
			if !r.keyword("INTO") {
				return "", fmt.Errorf("REPLACE without INTO")
			}
		case t.is("DELETE"):
			if !r.keyword("FROM") {
				return "", fmt.Errorf("DELETE without FROM")
			}
		default:
			continue
		}
		return r.tableName()
	}
	return "", nil // END, or an empty statement
}

// tokenReader walks a token list.
type tokenReader struct {
	toks []token
	i    int
}

// peek returns the token k places ahead, or a zero token past the end.
func (r *tokenReader) peek(k int) token {
	if r.i+k < len(r.toks) {
		return r.toks[r.i+k]
	}
	return token{kind: tokOther}
}

// keyword consumes the next token if it is kw.
func (r *tokenReader) keyword(kw string) bool {
	if r.peek(0).is(kw) {
		r.i++
		return true
	}
	return false
}

// qualifiedName consumes a name, or schema.name.
func (r *tokenReader) qualifiedName() bool {
	if r.peek(0).name() == "" {
		return false
	}
	r.i++
	if r.peek(0).text == "." && r.peek(1).name() != "" {
		r.i += 2
	}
	return true
}

// tableName consumes a table name (or schema.table) and returns the table.
func (r *tokenReader) tableName() (string, error) {
	if !r.qualifiedName() {
		return "", fmt.Errorf("no table name after %s", r.toks[r.i-1].text)
	}
	return r.toks[r.i-1].name(), nil
}

// event consumes [BEFORE|AFTER|INSTEAD OF] DELETE|INSERT|UPDATE [OF col, ...].
func (r *tokenReader) event() error {
	switch {
	case r.keyword("BEFORE"), r.keyword("AFTER"):
	case r.keyword("INSTEAD"):
		if !r.keyword("OF") {
			return fmt.Errorf("INSTEAD without OF")
		}
	}
	switch {
	case r.keyword("DELETE"), r.keyword("INSERT"):
		return nil
	case r.keyword("UPDATE"):
		if !r.keyword("OF") {
			return nil
		}
		for {
			if r.peek(0).name() == "" {
				return fmt.Errorf("no column after UPDATE OF")
			}
			r.i++
			if r.peek(0).text != "," {
				return nil
			}
			r.i++
		}
	}
	return fmt.Errorf("no DELETE, INSERT or UPDATE in the header")
}

func parenDelta(t token) int {
	switch {
	case t.kind != tokOther:
		return 0
	case t.text == "(":
		return 1
	case t.text == ")":
		return -1
	}
	return 0
}

// asciiLower folds a name as SQLite compares names: ASCII letters only.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
