// Package device runs a device's side of sync: the loop that pushes the
// local changelog to a hub and merges what the hub serves, beside an app
// that keeps writing to its SQLite file.
//
// Open is the one place a device is wired: the Go API (package deltasync)
// and `deltasync sync` both call it with the same Options, so a setting one
// of them has, the other has too. Open opens the file, installs or checks
// capture, upgrades the internal tables and makes a hub client; Run (or
// Start, in the background) syncs until stopped; Close(ctx) stops the loop,
// waits for every goroutine it started and only then closes the database.
//
// # The loop
//
// Syncer.SyncOnce gives the hub the schema if it has none (refusing a hub
// that holds another under the same name), logs the baseline of rows that
// predate capture, pushes every pending change, then pulls until it has
// everything the hub has. Syncer.Run does the same once, then pushes as soon
// as the database changes (PRAGMA data_version, checked every Watch, every
// BusyWatch within a second of a change), pulls as soon as the hub has news
// (long-poll), and syncs fully every Interval. A push moves the pushed
// cursor only after the hub acknowledged the batch; a pull merges each batch
// in one transaction with the pulled cursor (replicator.Node.Merge), so a
// crash at any instant leaves both or neither.
//
// Run retries a failed sync with exponential backoff and full jitter (100 ms
// up to MaxBackoff) while the hub is unreachable, times out or answers 5xx.
// A failure the same requests cannot cure (Permanent: the hub refused the
// token, the schema, the size or the contents of a batch, or this node
// refused what the hub sent) is recorded for LastError, which `deltasync
// status` shows, and retried only every RefusedRetry (DefaultRefusedRetry,
// 5 minutes), so that a hub's operator can fix a token without the device
// restarting, and a refused device does not hammer the hub. A refusal is
// not retried sooner when the database changes: an app writing steadily
// would turn that back into a tight loop.
//
// A batch the hub refuses as too large (413) is pushed again in halves,
// down to one row, which is then held back (replicator.HeldRows).
//
// device imports replicator, changelog, conflicts (for what OnConflict
// gets), hub (for its client and protocol messages) and the capture
// packages; nothing imports device but the root package and cmd/deltasync.
// It talks to a hub only through the Hub interface, which hub/hubtest
// checks every implementation against.
package device
