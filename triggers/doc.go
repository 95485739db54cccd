// Package triggers generates the SQLite triggers that log every insert,
// update and delete of a tracked table into _sync_changelog, and installs and
// removes them, each in one transaction.
//
// Generate is a pure function of a table and its registration, golden-tested
// in testdata/. Every identifier goes through schema.Ident. The trigger
// bodies use only SQL built into SQLite, so every other client of the file
// (the sqlite3 shell, a Python script, an Android app) keeps working without
// deltasync loaded. They are kept as small as possible, because a client that
// does not reuse prepared statements compiles them into every statement:
//
//   - insert and delete log the key only: one row with table id, op and key;
//     the write time comes from the changelog column's DEFAULT (julianday('now')).
//   - updates are logged by one trigger per column, AFTER UPDATE OF that column,
//     so a statement compiles only the triggers of the columns it sets, and a
//     WHEN clause skips columns set to the value they had (compared with
//     BINARY collation, and by storage class where the column's affinity lets
//     the class change). The log row names the column by id: the changed
//     columns need no bitmask arithmetic.
//   - a change of the primary key is logged as a delete of the old key and an
//     insert of the new one.
//   - there is no echo-suppression guard: replayed writes are logged too and
//     relabelled by changelog.ApplyRemote in the same transaction.
//
// Known limits, documented for users: a REPLACE that deletes a row with a
// different key because of a UNIQUE constraint fires no delete trigger (SQLite
// does so only with recursive_triggers on), so that delete is not captured; an
// UPDATE that sets the rowid of a table without a declared primary key is not
// captured as a key change; a REAL column whose value changes only from 0.0 to
// -0.0 is not seen as changed.
//
// triggers imports schema, changelog and migrations.
package triggers
