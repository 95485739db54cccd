// Package conflicts owns the conflicts a node records: the writes that lost
// to a concurrent write, kept in _sync_conflicts, one row per column (col
// NULL for the row's existence), grouped by event.
//
// A merge decides what is lost (replicator/rules.Decide) and calls
// Record, inside its transaction, once per lost value; on the hub, Notices
// reads back the losses of a site's writes for the loss notices its next
// pull carries. An app, or `deltasync conflicts`, reads them with List and
// Unresolved, settles one with Resolve, which writes the kept side into the
// app's row as an ordinary local write that syncs like any other, and
// deletes old ones with Clear. No other package names _sync_conflicts.
//
// A database installed before conflicts were recorded has no
// _sync_conflicts until `deltasync init` runs again: List, Unresolved and
// Clear then find none.
//
// conflicts imports change, changelog and schema; it must not import
// replicator, device or hub, which call it.
package conflicts
