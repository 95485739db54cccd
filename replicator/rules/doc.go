// Package rules is the merge decision: what a node does with one incoming
// change, given what it holds of the change's row, the table's policy and
// the node's role. Decide is a pure function, with no SQL and no I/O:
// replicator's merge reads its inputs and applies its Verdict, and
// rules_test.go checks it against every rule of replicator's package doc
// without a database, the way etcd-io/raft tests its state machine.
//
// The rules themselves (per-column last-writer-wins, lww-row, manual, what
// a delete, an insert and an update do, which losses are recorded, when a
// response is stale) are written up in replicator/doc.go.
//
// rules imports change, and changelog for the Policy type only; it must
// not import database/sql, sqlx, codec, replicator or anything that does
// I/O (internal/layout checks it).
package rules
