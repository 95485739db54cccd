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
//   - there is no echo-suppression guard on deltasync's own triggers:
//     replayed writes are logged too and relabelled by changelog.ApplyRemote
//     in the same transaction.
//
// # The app's own triggers
//
// Replay reproduces the origin's rows. What an app's trigger wrote on the
// origin was captured there and arrives as changes of its own, so the
// trigger must not run again when a batch is applied: Sakila's
// last_update = DATETIME('now') would stamp the receiving node's clock on
// every replayed row, and syncthing's counters would count each file
// twice. Install therefore adds changelog.NotApplying to the WHEN clause
// of the app's triggers (Guard, golden-tested in testdata/guard_*.sql): it
// is false only inside an apply's transaction, so the trigger still fires
// for every write of the app, from any client, the sqlite3 shell included.
// The guard goes first in the WHEN clause, so that an apply evaluates
// nothing of the app's condition; the app's condition follows it in
// parentheses, as the app wrote it. What a trigger writes is read from its
// body (INSERT, REPLACE, UPDATE and DELETE statements), and decided per
// trigger:
//
//   - it writes a tracked table: guarded. The rows it wrote travel as
//     changes.
//   - it writes only tables deltasync does not track (an FTS index, a
//     cache, an excluded table, a view): not guarded. It fires on replay
//     and keeps those tables in step with the replayed rows, as it does for
//     the app's own writes; nothing else would maintain them.
//   - it writes both: guarded, and Install warns. Tracked tables must
//     converge, and running it again would write them twice; the untracked
//     tables it writes miss the changes from other devices until the app
//     rebuilds them or splits the trigger into one per kind of table.
//   - it writes nothing, as a validation that only RAISEs does: guarded.
//     The write was judged where it was made; a replayed row that a
//     validation refused (because the merged state differs, or the trigger
//     compares with the time) would fail the whole batch, and the device
//     would stop receiving every table. RAISE(IGNORE) would drop the row
//     silently.
//
// A trigger whose text cannot be read is left as it is, and Install says so
// (AppTrigger.Warning). Install keeps the app's exact text of every trigger
// it guarded in _sync_app_triggers, with the text it installed: a later
// Install that finds its own text changes nothing, one that finds another
// text (the app created the trigger again) guards the app's new text, and
// a trigger whose tables stop being tracked gets the app's text back.
// Uninstall puts every guarded trigger's text back byte for byte.
//
// SQLite runs a table's triggers newest first, and deltasync's must stay
// newer than the app's (see Generate). So when Install rewrites any app
// trigger of a table, it creates all the app triggers of that table again
// in their order, and then all of the table's capture triggers.
//
// A guarded trigger's body is still compiled into every statement that
// writes its table: a trigger that calls a function only the app registers
// (calibre's title_sort) makes such statements fail in any other client,
// replay included, guard or not.
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
