// Package schema reads the live schema of a SQLite database into typed values:
// tables, columns, declared types and affinities, primary keys (rowid alias,
// declared, WITHOUT ROWID, none), generated columns and STRICT.
//
// It decides which tables deltasync can track and, for the others, gives the
// reason that `deltasync init` prints: virtual tables and their shadow tables,
// SQLite's own sqlite_* tables, deltasync's own _sync_* tables, tables whose
// key deltasync cannot address, and tables the user excluded.
//
// It also owns Ident, the one function through which every identifier in
// generated SQL is quoted.
//
// schema imports no other deltasync package.
package schema
