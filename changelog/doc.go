// Package changelog owns _sync_changelog and the contract the replicator
// builds on: read the changes after a version, coalesced per row, as typed Go
// values that keep their storage class; the node's last version; and echo
// suppression.
//
// It is the only package that reads or writes _sync_changelog,
// _sync_applied, _sync_tables, _sync_columns, _sync_peers, _sync_state and
// _sync_applying (internal/layout checks it): the statement a capture trigger runs
// (CaptureSQL) and a merge's log insert (LogSQL) come from here, cursors
// are a Cursors struct (ReadCursors, SetPulled, SetPushed), and every key of
// _sync_state is a StateKey declared in state.go.
//
// # What a trigger logs
//
// Triggers (package triggers) log the key of a written row, not its values:
// table id, op, the changed column's id for an update, the write time and the
// key in k0..k3. The values are read from the table when a range is read. This
// was measured (benchmarks/README.md): a key-only log row keeps capture near
// plain SQLite, where copying the row into the log costs about twice as much,
// and it makes coalescing free of charge, since the row's last values are
// simply its current values.
//
// # Coalescing
//
// Read returns one Change per written row in the range: inserts followed by
// updates stay an insert, updates merge their column sets, anything followed
// by a delete is a delete, a delete followed by an insert is an insert. An
// insert or update whose row no longer exists when the range is read becomes
// a delete: the later delete is the row's state. Changes are ordered by the
// first write of their row in the range, so parents inserted before children
// stay before them.
//
// # Bounds
//
// A read is bounded by changelog rows (ReadOptions.Limit) and by bytes
// (MaxBytes): a change counts its TEXT and BLOB bytes, key included, plus
// ChangeOverhead and ValueOverhead per value. The read stops before the
// change that would pass MaxBytes and returns at least one; a hub serving a
// device cuts only between merges and serves at least one merge whole. The
// common read costs nothing more: values are counted as the one query per
// table reads them, and only a read that passes a bound measures rows one
// by one, in the order of their first write, with octet_length, which does
// not read the value. A change over MaxRowBytes comes marked TooLarge and
// without values. ReadOptions.Whole names rows whose last change never
// travelled: their next change carries the whole row.
//
// # Values
//
// A value is one of nil (NULL), int64 (INTEGER), float64 (REAL), string
// (TEXT, any bytes, NUL included) or []byte (BLOB, never nil, possibly empty).
// Values are selected as +"column" so that the driver sees no declared type
// and never converts a DATETIME or BOOLEAN column's value into something else.
//
// # Echo suppression
//
// ApplyRemote runs a callback in one transaction and records the versions the
// triggers logged meanwhile in _sync_applied, with the origin site. Read skips
// those versions, so replayed changes, and whatever the app's own triggers
// derived from them, are never shipped as local changes. The capture
// triggers need no guard: a guard would be compiled into every app statement.
//
// # Replay does not run the app's triggers again
//
// What an app trigger wrote on the origin arrives as changes of its own, so
// running it again on replay would write a second time (a last_update of
// the receiving node's clock, a counter counted twice). ApplyRemote holds
// one row in _sync_applying for the length of its transaction, and package
// triggers adds NotApplying, which reads that table, to the WHEN clause of
// the app's triggers that write tracked tables. The row is inserted after
// the transaction begins and deleted before it commits: no other
// connection, hence no write of the app, ever sees it.
// ApplyRemoteWith's Discard option is for a device merging from its hub:
// only the hub serves replayed changes, so the device keeps no log rows for
// them (large merges compile the log inserts out with an authorizer, small
// ones delete their rows).
//
// changelog imports schema; it must not import triggers, replicator, device or codec.
package changelog
