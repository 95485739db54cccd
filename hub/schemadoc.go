package hub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// ErrBadSchema: a schema document the hub will not build a replica from.
var ErrBadSchema = errors.New("schema refused")

// Bounds of a schema document. The largest corpus schema (synapse) has
// about 300 statements and 150 KiB of DDL.
const (
	maxStatements     = 2000
	maxStatementBytes = 64 << 10
	maxSchemaBytes    = 2 << 20
)

// schemaBuildTimeout bounds checking a schema and building a replica's
// tables. Creating empty tables and indexes takes milliseconds; the bound
// is there for a statement SQLite would take long to even prepare. A test
// shortens it.
var schemaBuildTimeout = 10 * time.Second

// checkDoc proves that doc's statements create exactly the tables and
// indexes they declare and nothing else, by running them in a scratch
// in-memory database under a SQLite authorizer (ddlOnly) that refuses
// everything but creating tables and indexes of the main database, and
// that its merge policies will install. Nothing is written to disk before
// it passes. The caller bounds its time (buildReplica).
func checkDoc(ctx context.Context, doc *replicator.SchemaDoc) error {
	if err := checkDocShape(doc); err != nil {
		return err
	}
	db, err := sqlx.Open(replicaDriver, "file:scratch?mode=memory")
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := runDDL(ctx, conn, doc.Statements); err != nil {
		return err
	}
	if err := sameObjects(ctx, conn.Conn, doc.Statements); err != nil {
		return err
	}
	return checkPolicies(ctx, conn, doc.Policies)
}

// checkPolicies refuses the policies that installing capture would: one
// deltasync does not know, or one for a table it does not track. Found
// there, the document's mistake would look like the hub's own failure.
func checkPolicies(ctx context.Context, db sqlx.QueryerContext, policies map[string]changelog.Policy) error {
	if len(policies) == 0 {
		return nil
	}
	s, err := schema.Read(ctx, db, schema.Filter{})
	if err != nil {
		return err
	}
	if err := triggers.CheckPolicies(s, policies); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSchema, err)
	}
	return nil
}

// checkDocShape checks what can be checked without SQLite: sizes, and that
// every statement at least starts as a CREATE TABLE or CREATE INDEX.
func checkDocShape(doc *replicator.SchemaDoc) error {
	if len(doc.Fingerprint) != 64 || strings.Trim(doc.Fingerprint, "0123456789abcdef") != "" {
		return fmt.Errorf("%w: the fingerprint must be 64 lower-case hex digits", ErrBadSchema)
	}
	if len(doc.Statements) == 0 || len(doc.Statements) > maxStatements {
		return fmt.Errorf("%w: %d statements; a schema has 1 to %d", ErrBadSchema, len(doc.Statements), maxStatements)
	}
	total := 0
	for i, stmt := range doc.Statements {
		total += len(stmt)
		if len(stmt) > maxStatementBytes {
			return fmt.Errorf("%w: statement %d is %d bytes, limit %d", ErrBadSchema, i+1, len(stmt), maxStatementBytes)
		}
		if !isCreate(stmt) {
			return fmt.Errorf("%w: statement %d is not CREATE TABLE or CREATE INDEX: the hub holds only the tracked tables and their indexes", ErrBadSchema, i+1)
		}
	}
	if total > maxSchemaBytes {
		return fmt.Errorf("%w: %d bytes of statements, limit %d", ErrBadSchema, total, maxSchemaBytes)
	}
	return nil
}

// isCreate reports whether stmt starts the way SQLite stores the statement
// of a table or an index in sqlite_schema.
func isCreate(stmt string) bool {
	for _, prefix := range []string{"CREATE TABLE ", "CREATE INDEX ", "CREATE UNIQUE INDEX "} {
		if strings.HasPrefix(stmt, prefix) {
			return true
		}
	}
	return false
}

// runDDL runs statements on conn under the ddlOnly authorizer, each of
// which must create exactly one table or index, and checks that the
// fingerprint covers all they made (onlyTracked).
func runDDL(ctx context.Context, conn *sqlx.Conn, statements []string) error {
	if err := execDDL(ctx, conn.Conn, statements); err != nil {
		return err
	}
	return onlyTracked(ctx, conn)
}

// execDDL runs statements under the ddlOnly authorizer.
func execDDL(ctx context.Context, conn *sql.Conn, statements []string) error {
	var g ddlGuard
	err := conn.Raw(func(c any) error {
		c.(*sqlite3.SQLiteConn).RegisterAuthorizer(g.authorize)
		return nil
	})
	if err != nil {
		return err
	}
	defer conn.Raw(func(c any) error { //nolint:errcheck // the connection is closed after
		c.(*sqlite3.SQLiteConn).RegisterAuthorizer(nil)
		return nil
	})
	for i, stmt := range statements {
		g.reset()
		if err := execFirst(ctx, conn, stmt); err != nil {
			return ddlError(ctx, i+1, g.refused(), err)
		}
		if err := g.checkDefaultOnly(ctx, conn, stmt); err != nil {
			return fmt.Errorf("%w: statement %d: %v", ErrBadSchema, i+1, err)
		}
		if n := g.objects(); n != 1 {
			return fmt.Errorf("%w: statement %d creates %d objects; each creates one table or index", ErrBadSchema, i+1, n)
		}
	}
	return nil
}

// ddlError is the failure err of statement n, of which the authorizer
// refused what refused says. What the statement asked for makes a bad
// schema, with SQLite's message, which names only what it declared; time
// running out, or SQLite failing for the hub's own reasons (the file,
// memory, a lock), does not.
func ddlError(ctx context.Context, n int, refused string, err error) error {
	switch {
	case refused != "":
		return fmt.Errorf("%w: statement %d: %s", ErrBadSchema, n, refused)
	case ctx.Err() != nil:
		return fmt.Errorf("statement %d: %w", n, ctx.Err())
	case hubFault(err):
		return fmt.Errorf("statement %d: %w", n, err)
	}
	return fmt.Errorf("%w: statement %d: %s", ErrBadSchema, n, sqliteMessage(err))
}

// hubFault reports whether SQLite failed for a reason of the hub's, not
// of the statement's.
func hubFault(err error) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case sqlite3.ErrIoErr, sqlite3.ErrFull, sqlite3.ErrNomem, sqlite3.ErrCantOpen, sqlite3.ErrReadonly,
		sqlite3.ErrCorrupt, sqlite3.ErrNotADB, sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrPerm,
		sqlite3.ErrProtocol, sqlite3.ErrInterrupt:
		return true
	}
	return false
}

// ddlGuard is the authorizer of a connection that runs a schema: it asks
// ddlOnly, counts the objects a statement creates and keeps, for the
// error, the action it refused (SQLite stops at the first).
type ddlGuard struct {
	mu       sync.Mutex
	created  int
	denied   string
	table    string          // the table the statement creates
	deferred map[string]bool // defaultFunctions it called: allowed only in a DEFAULT
	trusted  bool            // the hub's own query runs (checkDefaultOnly)
}

func (g *ddlGuard) authorize(op int, a1, a2, a3 string) int {
	ok, creates := ddlOnly(op, a1, a2, a3)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.trusted {
		return sqlite3.SQLITE_OK
	}
	if op == sqlite3.SQLITE_CREATE_TABLE && creates {
		g.table = a1
	}
	if !ok && op == sqlite3.SQLITE_FUNCTION && defaultFunctions[strings.ToLower(a2)] {
		g.deferred[strings.ToLower(a2)] = true
		return sqlite3.SQLITE_OK
	}
	if !ok {
		g.denied = actionName(op, a1, a2)
		return sqlite3.SQLITE_DENY
	}
	if creates {
		g.created++
	}
	return sqlite3.SQLITE_OK
}

// reset starts a statement.
func (g *ddlGuard) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.created, g.denied, g.table, g.deferred = 0, "", "", map[string]bool{}
}

func (g *ddlGuard) objects() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.created
}

// refused says what the statement did that a schema may not, or "".
func (g *ddlGuard) refused() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.denied == "":
		return ""
	case strings.HasPrefix(g.denied, "function "):
		return g.denied + " is not allowed in a schema: it may call only the cheap functions that SECURITY.md lists"
	}
	return g.denied + " is not allowed in a schema"
}

// execFirst runs the first statement of text and nothing after it: a
// prepared statement is one statement, where Exec would run them all.
// What follows the first statement makes its stored text differ from the
// statement sent, which sameObjects refuses.
func execFirst(ctx context.Context, conn *sql.Conn, text string) error {
	stmt, err := conn.PrepareContext(ctx, text)
	if err != nil {
		return err
	}
	defer stmt.Close()
	_, err = stmt.ExecContext(ctx)
	return err
}

// ddlOnly is the authorizer a schema runs under: it allows creating tables
// and indexes in the main database and what SQLite does on their behalf
// (writing sqlite_schema, reading the new table's columns, resolving the
// functions of CHECK, DEFAULT, generated and index expressions, which must
// be among cheapFunctions), and denies everything else: ATTACH, triggers,
// views, pragmas, SELECT, writes to any other table, and every other
// function.
func ddlOnly(op int, a1, a2, a3 string) (ok, creates bool) {
	switch op {
	case sqlite3.SQLITE_CREATE_TABLE:
		// sqlite_sequence comes with the first AUTOINCREMENT key.
		if strings.EqualFold(a1, "sqlite_sequence") {
			return a3 == "main", false
		}
		return a3 == "main" && !reservedName(a1), true
	case sqlite3.SQLITE_CREATE_INDEX:
		// a1 is the index, a2 its table. A UNIQUE or PRIMARY KEY
		// constraint makes an automatic index, which SQLite names.
		if isAutoIndex(a1, a2) {
			return a3 == "main" && !reservedName(a2), false
		}
		return a3 == "main" && !reservedName(a1) && !reservedName(a2), true
	case sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE:
		return a3 == "main" && isSchemaTable(a1), false
	case sqlite3.SQLITE_READ, sqlite3.SQLITE_REINDEX:
		return a3 == "main", false
	case sqlite3.SQLITE_FUNCTION:
		// a2 is the function's name, in the case the statement wrote it.
		return cheapFunctions[strings.ToLower(a2)], false
	}
	return false, false
}

// reservedName: names a schema must not give a table or an index, because
// deltasync owns _sync_ (its own index of the same name would fail to
// install) and SQLite owns sqlite_.
func reservedName(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasPrefix(lower, schema.InternalPrefix) || strings.HasPrefix(lower, "sqlite_")
}

// isAutoIndex reports whether index is the name SQLite gives the index of a
// UNIQUE or PRIMARY KEY constraint of table: sqlite_autoindex_TABLE_N.
// SQLite refuses that prefix to a schema's own indexes.
func isAutoIndex(index, table string) bool {
	n, ok := strings.CutPrefix(index, "sqlite_autoindex_"+table+"_")
	return ok && n != "" && strings.Trim(n, "0123456789") == ""
}

func isSchemaTable(name string) bool {
	switch strings.ToLower(name) {
	case "sqlite_master", "sqlite_schema", "sqlite_sequence":
		return true
	}
	return false
}

// actionName describes an authorizer action for an error message.
func actionName(op int, a1, a2 string) string {
	names := map[int]string{
		sqlite3.SQLITE_ATTACH: "ATTACH", sqlite3.SQLITE_DETACH: "DETACH", sqlite3.SQLITE_PRAGMA: "PRAGMA " + a1,
		sqlite3.SQLITE_SELECT: "SELECT", sqlite3.SQLITE_CREATE_TRIGGER: "CREATE TRIGGER", sqlite3.SQLITE_CREATE_VIEW: "CREATE VIEW",
		sqlite3.SQLITE_CREATE_TEMP_TABLE: "CREATE TEMP TABLE", sqlite3.SQLITE_CREATE_TEMP_TRIGGER: "CREATE TEMP TRIGGER",
		sqlite3.SQLITE_CREATE_TEMP_VIEW: "CREATE TEMP VIEW", sqlite3.SQLITE_CREATE_TEMP_INDEX: "CREATE TEMP INDEX",
		sqlite3.SQLITE_CREATE_VTABLE: "CREATE VIRTUAL TABLE", sqlite3.SQLITE_TRANSACTION: "a transaction",
		sqlite3.SQLITE_SAVEPOINT: "SAVEPOINT", sqlite3.SQLITE_ALTER_TABLE: "ALTER TABLE", sqlite3.SQLITE_ANALYZE: "ANALYZE",
		sqlite3.SQLITE_DELETE: "DELETE", sqlite3.SQLITE_INSERT: "INSERT", sqlite3.SQLITE_UPDATE: "UPDATE",
		sqlite3.SQLITE_FUNCTION:     "function " + strings.ToLower(a2),
		sqlite3.SQLITE_CREATE_TABLE: "CREATE TABLE " + a1, sqlite3.SQLITE_CREATE_INDEX: "CREATE INDEX " + a1 + " on " + a2,
	}
	n, ok := names[op]
	switch {
	case !ok:
		return fmt.Sprintf("action %d", op)
	case (op == sqlite3.SQLITE_CREATE_TABLE || op == sqlite3.SQLITE_CREATE_INDEX) && (reservedName(a1) || reservedName(a2)):
		return n + " (a reserved name)"
	}
	return n
}

// sameObjects checks that the database holds exactly the objects statements
// declare, each stored with exactly its statement's text, and nothing else
// but SQLite's own (constraint indexes, sqlite_sequence).
func sameObjects(ctx context.Context, conn *sql.Conn, statements []string) error {
	rows, err := conn.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_schema
		WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	if err != nil {
		return err
	}
	defer rows.Close()
	want := map[string]bool{}
	for _, s := range statements {
		want[s] = true
	}
	n := 0
	for rows.Next() {
		var typ, name, stmt string
		if err := rows.Scan(&typ, &name, &stmt); err != nil {
			return err
		}
		if !want[stmt] || (typ != "table" && typ != "index") {
			return fmt.Errorf("%w: %s %s is not stored as its statement says (send the statements as sqlite_schema holds them)", ErrBadSchema, typ, schema.Ident(name))
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != len(want) || n != len(statements) {
		return fmt.Errorf("%w: %d statements made %d objects; each statement must appear once", ErrBadSchema, len(statements), n)
	}
	return nil
}

// sqliteMessage is SQLite's message for err without Go's wrapping, which
// is safe to show the client: it names only what the statement declared.
func sqliteMessage(err error) string {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Error()
	}
	return "the statement failed"
}
