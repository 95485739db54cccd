package hub

import (
	"database/sql"

	"github.com/mattn/go-sqlite3"

	"github.com/deltasync/deltasync/codec"
)

// What a schema's expressions may cost. The hub evaluates a table's CHECK
// and generated-column expressions, and its index expressions and partial
// index WHERE clauses, on every row it merges, so a schema decides what a
// push costs: a CHECK of length(hex(zeroblob(n))) made a 261-byte push
// cost 28 s and 1 GB. Two bounds keep that cost in proportion to the push:
// a schema may call only the functions in cheapFunctions (ddlOnly), and
// every connection to a replica has the SQLite limits of limitConn.

// cheapFunctions are the functions a schema may call: each takes time about
// linear in its arguments' size and returns no more bytes than it was given
// (or a few bytes), so that no function makes a large value out of a
// small row. (The || operator, which no authorizer sees, and json_extract
// with several paths still can, up to replicaMaxLength.) They cover the 20 corpus schemas and the usual constraints
// (length, lower, LIKE, json_valid, datetime defaults, expression indexes).
//
// Left out, for cost: zeroblob, randomblob, printf and format (a width
// makes any size), replace (the square of its input), hex, quote,
// concat, json_quote and the JSON builders (each doubles or more, nested
// without end), instr, trim and unhex (the product of two values' lengths),
// and json and jsonb (not needed). Left out as non-deterministic or outside
// the database: random, changes, sqlite_*, load_extension and the like.
// LIKE and GLOB also take the product of value and pattern, but the
// pattern is bounded (maxLikePattern).
var cheapFunctions = setOf(
	// scalar core
	"abs", "coalesce", "ifnull", "iif", "if", "nullif", "likely", "unlikely", "likelihood",
	"max", "min", "typeof", "length", "octet_length", "lower", "upper", "substr", "substring",
	"unicode", "char", "round", "sign", "like", "glob",
	// date and time; CURRENT_* is how SQLite names DEFAULT CURRENT_TIMESTAMP
	"date", "time", "datetime", "julianday", "unixepoch", "strftime", "timediff",
	"current_date", "current_time", "current_timestamp",
	// JSON that reads
	"json_valid", "json_type", "json_extract", "->", "->>", "json_array_length", "json_error_position",
	// math, where compiled in: constant time
	"ceil", "ceiling", "floor", "trunc", "mod", "pi", "sqrt", "exp", "ln", "log", "log2", "log10",
	"pow", "power", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh",
	"asinh", "acosh", "atanh", "degrees", "radians",
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// replicaMaxLength is SQLITE_LIMIT_LENGTH on replica connections: the
// largest string, blob or row. A push's values come in one frame body
// (codec.DefaultLimits.MaxBody), and the largest row the hub writes is a
// conflict, which keeps two of them (the value that lost and the one that
// won); a megabyte more is for its key and clocks. SQLite's default is a
// gigabyte.
var replicaMaxLength = 2*codec.DefaultLimits.MaxBody + 1<<20

// maxLikePattern is SQLITE_LIMIT_LIKE_PATTERN_LENGTH: a LIKE or GLOB costs
// up to its value's length times its pattern's. Patterns in real schemas
// are short literals; SQLite's default is 50,000.
const maxLikePattern = 1000

// replicaDriver is go-sqlite3 with limitConn run on every new connection:
// the hub opens replicas, and the databases it checks schemas in, with it.
const replicaDriver = "sqlite3_hub_replica"

func init() {
	sql.Register(replicaDriver, &sqlite3.SQLiteDriver{ConnectHook: limitConn})
}

// limitConn sets the SQLite limits that bound what an expression of a
// schema can cost. SQLITE_LIMIT_EXPR_DEPTH keeps its default (1000): an
// expression's cost follows its number of terms, which the statement size
// bounds, rather than its depth.
func limitConn(c *sqlite3.SQLiteConn) error {
	c.SetLimit(sqlite3.SQLITE_LIMIT_LENGTH, replicaMaxLength)
	c.SetLimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, maxLikePattern)
	return nil
}
