package hub_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/dbtest"
)

// TestSchemaExpensiveFunctions: the hub evaluates a schema's CHECK,
// DEFAULT, generated-column and index expressions on the rows it merges,
// so a function that makes a large value out of a small one lets a tiny
// push cost seconds and gigabytes (a CHECK with zeroblob made a 261-byte
// push cost 28 s and 1 GB). Each is refused at upload, with the schema's
// true fingerprint, as a bad schema naming the function and its statement.
func TestSchemaExpensiveFunctions(t *testing.T) {
	th := newTenantHub(t)
	cases := []struct {
		name, ddl, want string
	}{
		{"zeroblob in a check", `CREATE TABLE x (id INTEGER PRIMARY KEY, n INT CHECK (length(zeroblob(n)) > 0));`, "statement 1: function zeroblob"},
		// The review's schema.
		{"hex of a zeroblob", `CREATE TABLE x (id INTEGER PRIMARY KEY, n INT CHECK (length(hex(zeroblob(n))) > 0));`, "statement 1: function zeroblob"},
		{"randomblob in a check", `CREATE TABLE x (id INTEGER PRIMARY KEY, n INT CHECK (length(randomblob(n)) > 0));`, "statement 1: function randomblob"},
		// randomblob and hex are allowed in a DEFAULT, which the hub never
		// evaluates, and nowhere else, whatever the DEFAULTs hold.
		{"hex in a default and a check", `CREATE TABLE x (id TEXT PRIMARY KEY DEFAULT (hex(randomblob(16))), s TEXT CHECK (length(hex(hex(s))) > 0));`, "statement 1: function hex is allowed in a column's DEFAULT only"},
		{"hex in a generated column", `CREATE TABLE x (id INTEGER PRIMARY KEY, s TEXT DEFAULT 'hex', h TEXT AS (hex(hex(s))));`, "statement 1: function hex is allowed in a column's DEFAULT only"},
		{"randomblob split by a comment", `CREATE TABLE x (id INTEGER PRIMARY KEY, n INT DEFAULT (randomblob(1)) CHECK (length(randomblob /* */ (n)) > 0));`, "statement 1: function randomblob is allowed in a column's DEFAULT only"},
		{"hex in an index", `CREATE TABLE x (id INTEGER PRIMARY KEY, s TEXT DEFAULT (hex(randomblob(4)))); CREATE INDEX xs ON x (hex(hex(s)));`, "statement 2: function hex is allowed in a column's DEFAULT only"},
		{"printf width", `CREATE TABLE x (id INTEGER PRIMARY KEY, n INT, s TEXT AS (printf('%*d', n, 1)));`, "statement 1: function printf"},
		{"format width", `CREATE TABLE x (id INTEGER PRIMARY KEY, n INT, s TEXT AS (format('%*d', n, 1)) STORED);`, "statement 1: function format"},
		{"replace in an index", `CREATE TABLE x (id INTEGER PRIMARY KEY, s TEXT); CREATE INDEX xs ON x (replace(s, 'a', s));`, "statement 2: function replace"},
		{"hex in a partial index", `CREATE TABLE x (id INTEGER PRIMARY KEY, s TEXT); CREATE INDEX xs ON x (s) WHERE length(hex(hex(hex(s)))) > 0;`, "statement 2: function hex"},
		{"instr of two values", `CREATE TABLE x (id INTEGER PRIMARY KEY, a TEXT, b TEXT CHECK (instr(a, b) >= 0));`, "statement 1: function instr"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := th.putSchema(t, "evil", schemaDoc(t, tc.ddl))
			if status != http.StatusUnprocessableEntity || !strings.Contains(body, `"bad-schema"`) || !strings.Contains(body, tc.want) {
				t.Errorf("got %d %s, want 422 bad-schema saying %q", status, body, tc.want)
			}
		})
	}
}

// honestDDL uses the functions real schemas put in constraints, defaults,
// generated columns and indexes.
const honestDDL = `CREATE TABLE items (
	id TEXT PRIMARY KEY CHECK (length(id) < 100),
	name TEXT NOT NULL CHECK (name = lower(name) AND name NOT LIKE '% %'),
	email TEXT CHECK (email GLOB '*@*'),
	data TEXT CHECK (data IS NULL OR json_valid(data)),
	kind TEXT AS (json_extract(data, '$.kind')),
	n INT CHECK (abs(coalesce(n, 0)) < 1000 AND typeof(n) IN ('integer', 'null')),
	code TEXT CHECK (code IS NULL OR substr(code, 1, 2) = upper(substr(code, 1, 2))),
	uid TEXT NOT NULL DEFAULT (lower(hex(randomblob(16)))),
	created TEXT DEFAULT CURRENT_TIMESTAMP,
	updated TEXT DEFAULT (datetime('now')),
	day INT DEFAULT (strftime('%s', 'now')),
	price REAL CHECK (round(price, 2) = price)
);
CREATE INDEX items_kind ON items (data ->> '$.kind') WHERE n > 0;
CREATE INDEX items_day ON items (date(created), ifnull(n, 0));`

// TestSchemaCheapFunctions: a schema with the usual CHECK constraints,
// defaults, generated columns and expression indexes builds, and rows that
// pass them sync through the hub.
func TestSchemaCheapFunctions(t *testing.T) {
	th := newTenantHub(t)
	s, path, _ := newSyncer(t, hub.NewClient(th.url, th.tokens["evil"]), honestDDL)
	s.Name = "evil"
	dbtest.Shell(t, path, `INSERT INTO items (id, name, email, data, n, code, price)
		VALUES ('a', 'ann', 'a@example.com', '{"kind": "k"}', 3, 'AB1', 1.5)`)
	if _, err := s.SyncOnce(context.Background()); err != nil {
		t.Fatalf("sync a schema of cheap functions: %v", err)
	}
}

// TestReplicaLimits: every connection to a replica refuses a string, blob
// or row larger than the largest the hub writes, and a long LIKE pattern,
// so that no expression of a schema costs more than its inputs allow.
func TestReplicaLimits(t *testing.T) {
	ctx := context.Background()
	local := newLocal(t)
	r, err := local.Store.Create(ctx, "notes", schemaDoc(t, notesDDL))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var n int
	// zeroblob allocates nothing: length() sees only its size.
	if err := r.Node.DB.GetContext(ctx, &n, `SELECT length(zeroblob(?))`, hub.ReplicaMaxLength); err != nil || n != hub.ReplicaMaxLength {
		t.Errorf("a value of the largest size: got %d, %v; want %d", n, err, hub.ReplicaMaxLength)
	}
	if err := r.Node.DB.GetContext(ctx, &n, `SELECT length(zeroblob(?))`, hub.ReplicaMaxLength+1); err == nil || !strings.Contains(err.Error(), "too big") {
		t.Errorf("a value one byte larger: got %d, %v; want too big", n, err)
	}
	if err := r.Node.DB.GetContext(ctx, &n, `SELECT 'a' LIKE ?`, strings.Repeat("%", 10_000)); err == nil || !strings.Contains(err.Error(), "pattern too complex") {
		t.Errorf("a LIKE pattern of 10,000 characters: got %d, %v; want too complex", n, err)
	}
}
