// Package sqlitefile opens an app's existing SQLite file the way deltasync
// needs it, and turns the ways that can go wrong into errors that say what
// was wrong and what to do.
//
// It never creates a database: a path that does not exist is an error. Write
// transactions begin IMMEDIATE, so a transaction that will write takes the
// lock up front instead of failing half-way with SQLITE_BUSY, and a busy
// timeout lets short app transactions finish first.
package sqlitefile
