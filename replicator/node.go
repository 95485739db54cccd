package replicator

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/conflicts"
	"github.com/deltasync/deltasync/replicator/rules"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/codec"
)

// DefaultBatchSize is how many changelog rows one push or pull carries at most.
const DefaultBatchSize = 10000

// DefaultBatchBytes is how many value bytes one push or pull carries, about:
// a batch stops before the change that would pass it (changelog.ReadOptions),
// but carries at least one change, or on a hub one merge. It keeps a frame's
// body, and so its compressed size, well under codec.DefaultLimits.
const DefaultBatchBytes = 8 << 20

// DefaultMaxRowBytes is the largest row a device pushes (changelog.Change.Size):
// one such row alone still fits a frame of codec.DefaultLimits, with headroom.
const DefaultMaxRowBytes = 60 << 20

// Node merges batches into one database and builds the batches it sends.
// A device and the hub each run one per database.
type Node struct {
	DB           *sqlx.DB
	BatchSize    int           // changelog rows per batch; 0 means DefaultBatchSize
	BatchBytes   int64         // value bytes per batch, about; 0 means DefaultBatchBytes
	MaxRowBytes  int64         // a larger local row is held back, not pushed; 0 means DefaultMaxRowBytes
	MaxClockSkew time.Duration // 0 means DefaultMaxClockSkew
	// MergeCacheKiB, if positive, is the page cache of the connection
	// that merges a large batch, during the merge only
	// (changelog.ApplyOptions.CacheKiB): a hub keeps its replicas'
	// connections small and gives large merges more.
	MergeCacheKiB int
	Logger        *slog.Logger
	Now           func() time.Time // the wall clock; tests replace it
	// OnConflict, if set, is called after a merge that recorded conflicts,
	// with them, once the merge has committed.
	OnConflict func([]conflicts.Conflict)

	mu       sync.Mutex // one transaction that writes clocks at a time
	log      *changelog.Log
	site     change.SiteID
	enc      *codec.Encoder
	dec      *codec.Decoder
	prepares atomic.Int64 // statements merges prepared, for tests
	fks      struct {     // the foreign keys of the tracked tables, by schema
		fp   [32]byte
		keys []childKey
	}
}

// NewNode returns a node on db, which must have deltasync installed. It does no I/O.
func NewNode(db *sqlx.DB) *Node {
	return &Node{DB: db, log: changelog.New(db), Logger: slog.Default(), Now: time.Now}
}

// Open reads the node's identity and prepares the codec.
func (n *Node) Open(ctx context.Context) error {
	site, err := n.log.SiteID(ctx)
	if err != nil {
		return err
	}
	n.site = site
	if n.enc, err = codec.NewEncoder(); err != nil {
		return err
	}
	n.dec, err = codec.NewDecoder(codec.DefaultLimits)
	return err
}

// Close releases the codec.
func (n *Node) Close() error {
	if n.enc != nil {
		n.enc.Close()
	}
	if n.dec != nil {
		n.dec.Close()
	}
	return nil
}

// Site returns the node's site id.
func (n *Node) Site() change.SiteID { return n.site }

// Log returns the node's changelog.
func (n *Node) Log() *changelog.Log { return n.log }

// MaxBatchRows is how many changes a batch carries at most.
func (n *Node) MaxBatchRows() int {
	if n.BatchSize > 0 {
		return n.BatchSize
	}
	return DefaultBatchSize
}

// MaxBatchBytes is about how many value bytes a batch carries.
func (n *Node) MaxBatchBytes() int64 {
	if n.BatchBytes > 0 {
		return n.BatchBytes
	}
	return DefaultBatchBytes
}

func (n *Node) maxRowBytes() int64 {
	if n.MaxRowBytes > 0 {
		return n.MaxRowBytes
	}
	return DefaultMaxRowBytes
}

func (n *Node) maxSkew() time.Duration {
	if n.MaxClockSkew > 0 {
		return n.MaxClockSkew
	}
	return DefaultMaxClockSkew
}

// Baseline logs the rows of tracked tables that were there before they were
// tracked, once per table, as inserts with write time 0: the first sync then
// ships them, and any real write wins over them.
func (n *Node) Baseline(ctx context.Context) (int64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	tx, err := n.DB.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	tracked, err := n.log.Tracked(ctx, tx)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, t := range tracked {
		n, err := changelog.LogBaseline(ctx, tx, t)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, tx.Commit()
}

// Outgoing absorbs local writes and returns the next batch of local changes
// after version since, encoded, and the version it reaches. A row larger
// than MaxRowBytes is left out and held back (see HeldRows).
func (n *Node) Outgoing(ctx context.Context, since change.Version) ([]byte, change.Version, int, error) {
	o, err := n.NextBatch(ctx, since, n.MaxBatchBytes())
	return o.Frame, o.Through, o.N, err
}

// OutBatch is one batch a push sends.
type OutBatch struct {
	Frame         []byte
	From, Through change.Version // the versions it covers: (From, Through]
	N             int            // changes in the frame
	Bytes         int64          // what its changes count toward the byte bound
	More          bool           // a bound cut the batch: more local changes follow
	// only, for a batch of one change: that row, to hold back if the hub
	// finds it too large (HoldBack).
	only *heldRow
}

// NextBatch is Outgoing with a byte bound of its own, and all it knows of
// the batch.
func (n *Node) NextBatch(ctx context.Context, since change.Version, maxBytes int64) (OutBatch, error) {
	return n.outgoing(ctx, since, maxBytes)
}

func (n *Node) outgoing(ctx context.Context, since change.Version, maxBytes int64) (OutBatch, error) {
	out := OutBatch{From: since}
	n.mu.Lock()
	defer n.mu.Unlock()
	whole, err := heldOps(ctx, n.DB)
	if err != nil {
		return out, err
	}
	// The batch's values are read from a snapshot, before the write
	// transaction that gives them clocks: an app writing meanwhile waits
	// for the clocks only, not for the read of every row. What the app
	// writes after the snapshot is logged after the batch and goes in the
	// next one; merges, which would change the rows' clocks, wait for n.mu.
	b, err := n.log.ReadBounded(ctx, since, changelog.ReadOptions{
		Limit: n.MaxBatchRows(), MaxBytes: maxBytes, MaxRowBytes: n.maxRowBytes(), Whole: whole})
	if err != nil {
		return out, err
	}
	out.Through, out.More = b.Through, b.More
	tx, err := n.DB.BeginTxx(ctx, nil)
	if err != nil {
		return out, fmt.Errorf("begin push: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	s, err := newClockStore(ctx, tx, n.site)
	if err != nil {
		return out, err
	}
	tracked, fp, err := n.Schema(ctx, tx)
	if err != nil {
		return out, err
	}
	s.keep = true // the batch's clocks are what absorb writes, mostly
	if err := absorb(ctx, tx, n.log, s, tracked, b.Through); err != nil {
		return out, err
	}
	send, held := n.setAside(b.Changes)
	bd := newBuilder(s, tracked, fp, n.site, since, b.Through)
	bd.mine = true
	if err := bd.preload(send); err != nil {
		return out, err
	}
	for _, c := range send {
		if err := bd.add(c, nil); err != nil {
			return out, err
		}
		out.Bytes += c.Size
	}
	if err := s.close(); err != nil {
		return out, err
	}
	if err := updateHeld(ctx, tx, held, send, len(whole) > 0); err != nil {
		return out, err
	}
	if err := tx.Commit(); err != nil {
		return out, fmt.Errorf("commit push clocks: %w", err)
	}
	n.logHeld(held)
	out.N = len(bd.b.Changes)
	if out.N == 1 && len(send) == 1 {
		out.only = newHeldRow(send[0], 0, n.Now())
	}
	out.Frame, err = n.enc.Encode(nil, bd.b)
	return out, err
}

// Serve returns an encoded batch of every change after version since (local
// or merged), leaving out what the asking site already has. The hub serves
// pulls with it.
func (n *Node) Serve(ctx context.Context, since change.Version, limit int, asker change.SiteID) ([]byte, change.Version, int, error) {
	conn, err := n.DB.Connx(ctx)
	if err != nil {
		return nil, 0, 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN`); err != nil {
		return nil, 0, 0, fmt.Errorf("begin read: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`) //nolint:errcheck // read-only
	s, err := newClockStore(ctx, conn, n.site)
	if err != nil {
		return nil, 0, 0, err
	}
	defer s.close()
	tracked, fp, err := n.Schema(ctx, conn)
	if err != nil {
		return nil, 0, 0, err
	}
	if limit <= 0 {
		limit = n.MaxBatchRows()
	}
	// No MaxRowBytes: a hub serves every row it merged, which its own
	// limits let in; the byte bound cuts only between merges.
	b, err := n.log.ReadBoundedTx(ctx, conn, since, changelog.ReadOptions{Limit: limit, MaxBytes: n.MaxBatchBytes(), Origin: &asker})
	if err != nil {
		return nil, 0, 0, err
	}
	bd := newBuilder(s, tracked, fp, n.site, since, b.Through)
	if err := bd.preload(b.Changes); err != nil {
		return nil, 0, 0, err
	}
	for _, c := range b.Changes {
		if err := bd.add(c, &asker); err != nil {
			return nil, 0, 0, err
		}
	}
	if err := bd.addNotices(ctx, conn, asker); err != nil {
		return nil, 0, 0, err
	}
	head, err := n.log.LastVersionTx(ctx, conn)
	if err != nil {
		return nil, 0, 0, err
	}
	bd.b.Head = max(head, b.Through)
	frame, err := n.enc.Encode(nil, bd.b)
	return frame, b.Through, len(bd.b.Changes), err
}

// MergeResult says what a merge did.
type MergeResult struct {
	Changes   int            // changes in the batch
	Conflicts int            // conflicts the merge recorded
	Version   change.Version // this node's last version after the merge
}

// Merge decodes frame and merges it in one transaction, as role. A device
// merges its hub's batches as RoleDevice: they carry every site's writes,
// and loss notices, and the hub's pulled cursor is set to the batch's last
// version in the same transaction, so that a crash leaves both or neither.
// A hub merges a device's push with MergePush instead; RoleHub here merges
// a batch as the hub would, with no cursor (tests and tools).
func (n *Node) Merge(ctx context.Context, frame []byte, role rules.Role) (MergeResult, error) {
	b, err := n.dec.Decode(frame)
	if err != nil {
		return MergeResult{}, err
	}
	return n.MergeBatch(ctx, b, role)
}

// MergePush is Merge of a device's push, on the hub: the batch must carry
// only the pushing device's own writes. Every change's row clock and column
// clocks must name the frame's origin, which must not be this node's own
// site, and no change may be a loss notice; otherwise the batch is refused
// whole with ErrInvalidBatch, saying which change and which site, and
// nothing is applied. Binding an origin to the device allowed to push it is
// the caller's part.
func (n *Node) MergePush(ctx context.Context, frame []byte) (MergeResult, error) {
	return n.MergePushAs(ctx, frame, nil)
}

// Admit decides, inside a push's merge transaction, whether its origin may
// push: the hub binds a device site to a token there, so that a push that
// is refused for any reason binds nothing. An error rolls the merge back.
type Admit func(ctx context.Context, tx *sqlx.Tx, origin change.SiteID) error

// MergePushAs is MergePush with admit run first in the merge transaction,
// once the batch is known to be valid.
func (n *Node) MergePushAs(ctx context.Context, frame []byte, admit Admit) (MergeResult, error) {
	b, err := n.dec.Decode(frame)
	if err != nil {
		return MergeResult{}, err
	}
	if err := checkPush(b, n.site); err != nil {
		return MergeResult{Changes: len(b.Changes)}, err
	}
	return n.mergeBatch(ctx, b, rules.RoleHub, admit)
}

// MergeBatch is Merge for a decoded batch.
func (n *Node) MergeBatch(ctx context.Context, b *codec.Batch, role rules.Role) (MergeResult, error) {
	return n.mergeBatch(ctx, b, role, nil)
}

func (n *Node) mergeBatch(ctx context.Context, b *codec.Batch, role rules.Role, admit Admit) (MergeResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	res := MergeResult{Changes: len(b.Changes)}
	if err := checkSkew(b, n.Now(), n.maxSkew()); err != nil {
		return res, err
	}
	var events []int64
	opt := changelog.ApplyOptions{Discard: role == rules.RoleDevice, Writes: len(b.Changes), CacheKiB: n.MergeCacheKiB}
	err := n.log.ApplyRemoteWith(ctx, b.Origin, opt, func(tx *sqlx.Tx) error {
		if admit != nil {
			if err := admit(ctx, tx, b.Origin); err != nil {
				return err
			}
		}
		var err error
		events, err = n.mergeTx(ctx, tx, b, role)
		return err
	})
	if err != nil {
		return res, err
	}
	res.Conflicts = len(events)
	if len(events) > 0 && n.OnConflict != nil {
		cs, err := conflicts.List(ctx, n.DB, conflicts.Filter{Events: events})
		if err != nil {
			return res, err
		}
		n.OnConflict(cs)
	}
	res.Version, err = n.log.LastVersion(ctx)
	return res, err
}

func (n *Node) mergeTx(ctx context.Context, tx *sqlx.Tx, b *codec.Batch, role rules.Role) ([]int64, error) {
	tracked, fp, err := n.Schema(ctx, tx)
	if err != nil {
		return nil, err
	}
	var acked change.Version
	if role == rules.RoleDevice {
		cur, err := changelog.ReadCursors(ctx, tx, changelog.Hub)
		if err != nil {
			return nil, err
		}
		if b.First != cur.Pulled {
			return nil, fmt.Errorf("%w: it covers versions %d-%d, this node has pulled up to %d", ErrStale, b.First+1, b.Last, cur.Pulled)
		}
		acked = cur.Acked
	}
	if fp != b.Fingerprint {
		return nil, fmt.Errorf("%w: the batch was built for schema %x, this database has %x", ErrSchemaMismatch, b.Fingerprint[:6], fp[:6])
	}
	targets, err := resolve(b, tracked)
	if err != nil {
		return nil, err
	}
	if err := checkChanges(b, targets); err != nil {
		return nil, err
	}
	s, err := newClockStore(ctx, tx, n.site)
	if err != nil {
		return nil, err
	}
	if err := absorb(ctx, tx, n.log, s, tracked, 0); err != nil {
		return nil, err
	}
	fkeys, err := n.foreignKeys(ctx, tx, tracked, fp)
	if err != nil {
		return nil, err
	}
	m := &merge{ctx: uncancelled(ctx), tx: tx, s: s, b: b, targets: targets, role: role,
		origin: b.Origin, prepares: &n.prepares, tracked: tracked, fkeys: fkeys}
	defer m.close()
	if b.Head != 0 && b.Head < acked {
		m.ackedAfter = acked
	}
	if role == rules.RoleDevice && len(b.Changes) > 0 {
		// Read before anything is merged: the merge's own log rows are not
		// marked as remote until it ends. A batch of nothing (the hub had
		// only this device's own pushes) reads nothing, which keeps a
		// device with a large backlog from reading it for every pull.
		if m.pending, err = loadPending(ctx, tx, n.log, tracked); err != nil {
			return nil, err
		}
	} else if role == rules.RoleHub {
		last, err := n.log.LastVersionTx(ctx, tx)
		if err != nil {
			return nil, err
		}
		m.arrived = last + 1
	}
	if err := m.applyAll(); err != nil {
		return nil, err
	}
	if err := s.close(); err != nil {
		return nil, err
	}
	if role != rules.RoleDevice {
		return m.events, nil
	}
	return m.events, changelog.SetPulled(ctx, tx, changelog.Hub, b.Last)
}

// Header parses and checks only the fixed header of a frame.
func (n *Node) Header(frame []byte) (codec.Header, error) {
	return n.dec.Header(frame)
}

// Decode decodes a frame, within codec.DefaultLimits.
func (n *Node) Decode(frame []byte) (*codec.Batch, error) {
	return n.dec.Decode(frame)
}
