// Package replicator merges batches of changes into a node and builds the
// batches a node sends: the same code on a device and on the hub.
//
// # Clocks
//
// Every write carries a hybrid logical clock (HLC): wall-clock milliseconds
// in the high 48 bits and a counter in the low 16. A node's local writes get
// their HLC when the replicator first sees them ("absorbs" them, in the
// transaction of the push that sends them or of the next merge, whichever
// comes first): max(write time, last HLC + 1), so a write made after merging
// a change from a clock that runs ahead still orders after it. Merging
// raises the node's HLC past every clock it merges. Clocks are compared as
// (HLC, site id); the site id breaks ties.
//
// A column's clock is the time of its own last write, not the row's: the
// changelog keeps every write's time, and absorb clocks the writes a change
// coalesces in the order they were made (changelog.Change.Writes), so a
// column a device wrote before another device's write of it loses to that
// write even if the device wrote the row's other columns later. Writes of
// one row made at the same time (one statement) share one clock, so a row
// whose columns were written together keeps one.
//
// _sync_clock keeps, per row, one clock (col 0) for the row's existence
// register and for every column written with it, and one more per column
// whose last write came later. A row never written since install has no
// clock, which is older than any write; rows that existed before install
// travel once as a baseline with HLC 0, older than any real write.
//
// A device keeps clocks only for rows it wrote itself. What it pulls from
// its hub needs none: the hub serves each value only once it holds a newer
// one, so a pulled value always wins over an earlier pulled value, and only
// the device's own, not yet acknowledged writes have to be compared with
// it. This keeps a first sync of a large database to one row write (and its
// changelog row) per row. The hub, which merges everyone's writes, keeps
// every clock.
//
// # Merge rules (per-column last-writer-wins)
//
//   - A delete wins if its clock is newer than the row's clock: the row is
//     deleted and its register becomes dead.
//   - An insert makes the row live if its clock is newer than the row's
//     register; each of its columns is then written where its clock is newer
//     than the column's clock. An insert older than a delete is not applied.
//   - An update writes each column whose clock is newer than the local one,
//     on a live row. An update does not bring a deleted row back: only the
//     node that wrote it has the row's other columns, so a resurrected row
//     would differ from node to node. A delete therefore wins over a
//     concurrent update, and an insert (with the whole row) wins over an
//     older delete.
//
// These rules, and those of the sections below down to loss notices and
// stale responses, are one pure function, rules.Decide (package
// replicator/rules, which imports nothing that does I/O). It takes what a
// node holds of a row (its RowClocks, whether it exists, a device's writes
// to it not pushed yet), the incoming change, the table's policy and the
// merge's Role, and returns a Verdict: what to write, which clocks to keep,
// which losses to record and of what kind, whether to refuse the response
// as stale. It does no I/O; rules_test.go checks it, rule by rule, without
// a database. merge.go and losses.go only read its inputs and apply the
// verdict (leaving out of the record a loss whose two sides hold the same
// value, which takes the values to see). The role is given once, where a
// merge starts (Merge's and MergeBatch's argument; MergePush is RoleHub),
// and nothing below asks a peer's name. insertNew writes many new
// rows at once, as Decide's verdict for a row that has no clock and does
// not exist, and falls back to Decide row by row otherwise.
//
// Column values and row existence depend only on the clocks, so merging is
// commutative, associative and idempotent for them: batches applied in any
// order, any number of times, give the same rows (TestMergeCommutes). The
// one exception is an update that reaches a node which does not have the
// row: it is dropped there. Devices exchange changes only through the hub,
// which orders them, and a device only updates rows it got from the hub or
// inserted itself, so every node still converges (TestConvergenceProperty);
// the dropped update is a write lost to a concurrent delete.
//
// # Policies and conflicts
//
// Each table has a policy, stored in _sync_tables and part of the schema
// fingerprint, so every node merges it the same way:
//
//   - lww-column (default): the rules above, column by column; concurrent
//     edits of different columns of a row both survive.
//   - lww-row: a write is a write of the whole row (an update carries every
//     column and stamps the row clock), and the later of two concurrent
//     writes wins as a whole, existence included: a later update brings a
//     row deleted concurrently back.
//   - manual: the first of two concurrent writes of a column the hub
//     accepted stays, on the hub and on every device; the later one is not
//     applied anywhere and is recorded. Existence follows its register
//     under every policy.
//
// Two writes are concurrent when neither writer had seen the other's write.
// The hub orders all writes, so "had seen" is a hub version: a device's own
// write carries, as the Seen of its clock, the hub version it had pulled
// when it wrote (absorb stamps it before a merge moves the cursor), and the
// hub keeps, with each clock, the version at which the value arrived
// (_sync_clock.seen and .arrived). On the hub an incoming write is
// concurrent with the local value when it comes from its own writer, the
// local value is another site's, and it arrived after the writer's Seen. A
// hub serves a merge whole, so a pulled version never splits one, and the
// clocks of what it serves carry, as their Seen, the version at which each
// value arrived there. A device judges only its own writes not yet pushed,
// by the same rule: a value its hub serves over one of them is concurrent
// with it when it arrived after the version the device had pulled when it
// wrote. A write the device pushed was judged by the hub, which, when that
// write lost, sends the device a loss notice (change.Lost) in its next
// pull; the device records it with what it then holds as the winner. A
// write that follows one it had seen is never a conflict, and two sides
// with the same value lose nothing. Under manual a device takes the value
// its hub serves over its own, unless its own write had seen that value.
// A device takes the row register (existence) its hub serves whatever the
// clocks, since the hub decided it (under manual an insert collision keeps
// the first row, whatever its clock), except over its own insert or delete
// not pushed yet, which the hub will decide by clock.
//
// A pull response must start at the device's pulled cursor. One the hub
// built (the frame's head) before the device's last acknowledged push
// landed (_sync_peers.acked) shows the hub from before that push, and the
// hub does not serve a device its own writes again, so applying it to a row
// the device wrote could leave an older value for good (under manual, or a
// row's register); it may change only rows the device never wrote. Either
// kind of stale response is refused with ErrStale, changing nothing, and
// asked for again.
//
// Whatever loses is recorded by package conflicts (conflicts.Record, in the
// merge's transaction), one row per column (col NULL for existence) grouped
// by event: table, key, kind (update, insert: rows inserted with the same
// key, delete: a delete that lost, deleted: values a concurrent delete
// removed), both values with their storage classes, both clocks and sites,
// when. A conflict is recorded on the node whose merge overwrote or rejected
// the value and on the device that wrote it. conflicts.Resolve writes the
// kept side as an ordinary local write, which syncs and, having seen both
// sides, wins everywhere. One imprecision remains: a write whose push is in
// flight while the pull that carries a later write made after seeing it
// arrives is judged as unpushed, and recorded as a conflict that was not
// one; never the other way round.
//
// A known imprecision of the records: a push reads its values as they are
// when it reads them, but gives clocks only to the writes of its batch. A
// row written again after the batch's last version travels with its newer
// value under the earlier write's clock (the next batch brings the right
// clock, so every node converges), and a concurrent write whose clock falls
// between the two may be recorded as winning over the newer value, then
// losing to it.
//
// # Constraints across rows
//
// A UNIQUE constraint other than the key is one no policy merges column by
// column: two devices that give one value to two rows cannot both keep
// it. A merge first applies its batch as fast as it can; if a UNIQUE
// constraint refuses a change, it undoes the batch (a savepoint) and
// applies it again change by change, each in a savepoint of its own
// (applyAll, unique.go), deferring the refused ones. Once the rest is
// applied it tries those again as long as that applies some: one device
// moved a value from one row to another, and the batch happened to carry
// the taker first. Then it moves the deferred rows' colliding values aside
// (NULL where the column allows it, else a random value of its type) and
// tries again: one device swapped two rows' values through a temporary
// value in one transaction, and the batch carries only the end state,
// which no order of single-row writes reaches. What still collides, with
// every other deferred row moved aside, is a real collision between two
// writers; its changes are undone and the rest applied without them.
//
// Of two colliding rows, the later one in the hub's order loses. On the
// hub that is the change being merged: it is applied nowhere, recorded as
// a conflict of kind unique with every value it carried against what the
// hub holds of its row, and its writer's next pull carries a loss notice
// with the hub's side (its values of the columns the change wrote, or no
// row). The writer applies such notices before the rest of the batch:
// its row takes the hub's values (columns it wrote again since, not
// pushed yet, keep theirs), or goes, and it records its own values as the
// loser. `conflicts resolve` puts the row back with the values given,
// keeping the others (conflicts.KindUnique). On a device, what a pulled row
// collides with is the device's own write not pushed yet (the hub's rows
// do not collide with each other): the hub has to order it first, so the
// pull is refused with ErrUnpushedCollision, changing nothing, and
// SyncOnce pushes and pulls again. A collision with a row the device has
// from the hub can only come from a pull that cuts between two of the
// hub's merges, a value moved in the later one; it is refused with
// ErrUnique. Placeholders a swap used never travel: they are overwritten
// in the same transaction, and batches read rows as they are.
//
// Foreign keys are not enforced while a batch applies, whatever the
// connection's setting (changelog.ApplyRemote turns them off for the
// apply): the effects of ON DELETE and ON UPDATE actions at the origin
// travel as changes of their own, as those of the app's triggers do, and
// running them again would change rows the origin kept; and a batch's
// order, a child before its parent, cannot trip a key. A merge then
// records, as conflicts of kind orphan, the rows its batch left naming a
// parent that is not there (orphans.go): a child it wrote whose parent is
// missing, and the children of a parent it deleted, for keys that name the
// parent's primary key (a key naming other columns is checked from the
// child's side only). That happens when a parent is deleted on one device
// while a child is added for it on another: both writes stand, so the
// orphan is on every node, and every node records it. A node also records
// the orphans a batch brings from a device whose app does not enforce its
// keys and left them there. `conflicts resolve --keep value={"col": ...}`
// gives the orphan another parent.
//
// # Batch size and rows too large to sync
//
// A batch is cut by changelog rows (Node.BatchSize) and by value bytes
// (Node.BatchBytes, DefaultBatchBytes 8 MiB, counted as changelog.ReadOptions
// says), on push and on pull, so that a frame's body and its compressed size
// stay well under codec.DefaultLimits (64 MiB each) whatever its values:
// zero blobs that compress to nothing are bounded by their uncompressed size.
// A batch carries at least one row, and a hub serves each merge whole, so
// one row of up to DefaultMaxRowBytes (60 MiB), random or not, travels in a
// frame of its own. A batch the hub refuses as too large (413: a hub with
// smaller limits) is pushed again in halves, down to one row.
//
// A local row larger than Node.MaxRowBytes, or one the hub refuses as too
// large on its own, is held back: the push leaves it out, records it in
// _sync_held (table, key, size, limit; `deltasync status` lists them,
// HeldRows returns them as RowTooLargeError, which wraps ErrRowTooLarge),
// logs a warning, and moves on. Rows written after it, and other devices'
// rows, keep syncing: a value no frame can carry must not stop the rest.
// device.Syncer.SyncOnce reports held rows in Stats.Held, and `sync --once` lists them and
// exits 1 rather than say "up to date". A held row is sent again, whole
// (an insert if the held change was one, else an update of every column the
// device wrote), as soon as it is written again and fits; then it leaves
// _sync_held. Until then the other devices do not have the held write: one
// of them writing the same row wins on every node, this device included,
// as if the held write had never been made; the record stays until the row
// is written again here.
//
// A batch is applied in one transaction through changelog.ApplyRemote, so it
// is never captured again as a local change, and a failure leaves nothing of
// it. Table and column names in a batch must exist in the receiving node's
// schema; SQL is built only from the receiver's own names.
//
// # What a merge trusts
//
// A node trusts nothing a batch says about whose writes it carries or what
// its keys are; a batch that breaks a rule every honest sender keeps is
// refused whole, before anything is written, with ErrInvalidBatch saying
// which change and what was wrong, and the sender must not retry it:
//
//   - Roles. A device merges what its hub serves with Merge(ctx, frame,
//     RoleDevice): it carries every site's writes, and loss notices. A hub
//     merges a device's push with MergePush: every change's row clock and
//     column clocks must name the frame's origin, which must not be the
//     hub's own site, and no change may be a loss notice (which only a
//     hub sends). A device therefore pushes only its own clocks: a value
//     another site wrote that a device took from its hub over its own
//     insert, not pushed yet, travels in that insert under the insert's
//     clock. Which device may push as which origin is the hub's part (it
//     binds a site to the token that first pushed it).
//   - Keys. A change's key has as many values as its table's key has
//     columns, none NULL (a row with a NULL key is never synced), and an
//     INTEGER for a rowid (a rowid table's, or an INTEGER PRIMARY KEY's):
//     '42', 43.0 or NULL would make SQLite give the row a new rowid on
//     every replay. A key column a change writes carries the key's own
//     value: a write never moves a row (a key change travels as a delete
//     and an insert).
//   - Whole rows. An insert, and an update under lww-row, carry every
//     column of the table, as every sender's changelog reads them.
//   - Names. A table, and a column in its table's list, appear once in a
//     batch (the codec refuses a frame that repeats one, with ErrCorrupt).
//
// A value this node's table refuses (a STRICT type, NOT NULL, CHECK, or a
// foreign key or trigger that aborts) fails the batch with ErrConstraint,
// naming the table, the key as a SQL literal and the column where SQLite
// names it; a UNIQUE collision is settled as above.
//
// A merge's cost follows its batch's size. Writes go through statements
// prepared once per merge, and an update's statement depends on the set of
// columns it writes: a merge prepares one for each of the first 32 sets
// of a table (maxShapes), and writes any further set with one statement
// that sets each column either to its new value or to itself. A batch of a
// different set per change therefore costs about what a batch of one set
// does (measured: 65,535 sets of 16 columns, a 683 KB frame, merged in 12.8
// s against 9.1 s for the same column writes in one set, on a loaded
// 2-core machine; it was 29.9 s and 1.3 GB of memory). Setting a column to
// itself logs nothing, but fires an app's UPDATE OF trigger on it.
//
// replicator imports change, schema, changelog, codec and conflicts (which
// owns the recorded conflicts), and nothing that does I/O beyond its node's
// database: the device package runs the loop that moves batches to and
// from a hub.
package replicator
