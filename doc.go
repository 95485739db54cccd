// Package deltasync syncs an app's existing SQLite database between devices,
// offline first, without changing the app.
//
// A Go app opens its database through Open instead of sql.Open, uses the
// *sqlx.DB it gets as before, and closes the Node when it is done: capture is
// installed on open (idempotently), and a background loop pushes local writes
// to the hub and merges what other devices wrote. Apps in other languages run
// the same loop as a sidecar: `deltasync sync app.db --hub URL`.
//
// The parts: schema reads a database's tables; triggers installs capture;
// changelog owns the log of what was captured and the node's cursors and
// state; codec is the wire format; replicator merges and builds batches;
// conflicts keeps the writes that lost a merge, to list and resolve; device
// runs a device's sync loop (Open here is device.Open); hub serves devices.
// README.md describes the design, and each package's doc.go what that
// package owns.
package deltasync
