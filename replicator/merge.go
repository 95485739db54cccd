package replicator

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/replicator/rules"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/schema"
)

var (
	// ErrSchemaMismatch: the batch was built for another schema.
	ErrSchemaMismatch = errors.New("schema fingerprint differs")
	// ErrUnknownTable: the batch names a table the receiver does not track.
	ErrUnknownTable = errors.New("unknown table")
	// ErrUnknownColumn: the batch names a column the receiver's table lacks.
	ErrUnknownColumn = errors.New("unknown column")
	// ErrClockSkew: a change is stamped too far in the future.
	ErrClockSkew = errors.New("clock too far in the future")
	// ErrNotice: a node sent a loss notice, which only a hub sends.
	ErrNotice = errors.New("a loss notice from a node that is not this node's hub")
	// ErrStale: a pull response that does not start at the pulled cursor,
	// or that the hub built before this node's last push landed.
	ErrStale = errors.New("stale pull response")
	// ErrUnique: a row breaks a UNIQUE constraint other than the key: the
	// value is held by another row.
	ErrUnique = errors.New("two rows hold one value of a UNIQUE column")
	// ErrInvalidBatch: a batch breaks a rule every sender keeps (a change
	// or clock naming another site than the pusher, a key that does not fit
	// the table's key, a column named twice); the sender must not retry it.
	ErrInvalidBatch = errors.New("invalid batch")
	// ErrConstraint: a row breaks a NOT NULL, CHECK or STRICT type
	// constraint of the receiver's table (or any other but UNIQUE: a
	// foreign key, a trigger's RAISE).
	ErrConstraint = errors.New("a row breaks a constraint of its table")
	// ErrMissingFeature: a merge needs a SQLite module or function that
	// this build lacks (an FTS5 index's triggers, the math functions).
	ErrMissingFeature = errors.New("a SQLite feature the app's schema uses is missing from this build")
	// ErrRowTooLarge: one row's values are larger than a batch may be.
	ErrRowTooLarge = errors.New("row too large to sync")
)

// DefaultMaxClockSkew is how far in the future a merged change may be stamped.
const DefaultMaxClockSkew = 5 * time.Minute

// target is a batch table resolved against the receiver's schema.
type target struct {
	changelog.Tracked
	cols    []schema.Column // batch column index -> the receiver's column
	ids     []int64         // batch column index -> column id
	isKey   []bool          // batch column index -> part of the key
	names   map[int64]string
	decide  rules.Table // what Decide needs of it
	sql     map[string]string
	updates int // column sets given their own update statement (see shaped)
}

// merge applies one batch inside one transaction.
type merge struct {
	ctx     context.Context
	tx      *sqlx.Tx
	s       *clockStore
	b       *codec.Batch
	targets []*target
	stmts   map[string]*sqlx.Stmt // by SQL text
	// prepares counts the statements prepared, for tests of a merge's cost.
	prepares *atomic.Int64
	// role: RoleDevice when the batch is a device's pull from its hub. The
	// hub serves each column's value only as it grows newer, so a value
	// that came from the hub never needs its clock compared again on the
	// device: clocks are kept only for rows the device itself wrote (see
	// package doc).
	role    rules.Role
	clocked map[int64]bool // tables that have clocks, for RoleDevice
	origin  change.SiteID
	arrived change.Version // on the hub: the version at which this batch arrives
	pending pendingWrites  // on a device: its writes not yet pushed, once read
	// ackedAfter: the hub built this response (at its head) before this
	// device's last acknowledged push landed, at version ackedAfter. It
	// shows the hub as it was then, and the hub never serves a device its
	// own writes again, so it must not override one of them (Verdict.Stale).
	ackedAfter change.Version
	events     []int64 // conflicts recorded
	// careful: a UNIQUE constraint refused a change of this batch, which is
	// being merged again change by change (applyAll); deferred holds the
	// changes refused so far.
	careful  bool
	deferred []deferral
	tracked  map[string]changelog.Tracked
	fkeys    []childKey          // the foreign keys of the tracked tables
	kbuf     []byte              // a cache key, to look pending writes up without allocating
	cols     []rules.ColumnWrite // the columns of the change being decided
}

// resolve checks every table and column of b against the receiver's schema
// before anything is applied.
func resolve(b *codec.Batch, tracked map[string]changelog.Tracked) ([]*target, error) {
	out := make([]*target, len(b.Tables))
	seen := map[string]bool{}
	for i, bt := range b.Tables {
		t, ok := tracked[bt.Name]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownTable, bt.Name)
		}
		if seen[bt.Name] {
			return nil, fmt.Errorf("%w: table %q named twice", ErrInvalidBatch, bt.Name)
		}
		seen[bt.Name] = true
		tg := &target{Tracked: t, sql: map[string]string{}}
		for j, name := range bt.Columns {
			id, ok := t.ColumnIDs[name]
			col, found := column(t.Table, name)
			if !ok || !found {
				return nil, fmt.Errorf("%w %q in table %q", ErrUnknownColumn, name, bt.Name)
			}
			if slices.Contains(bt.Columns[:j], name) {
				return nil, fmt.Errorf("%w: column %q of table %q named twice", ErrInvalidBatch, name, bt.Name)
			}
			tg.cols, tg.ids = append(tg.cols, col), append(tg.ids, id)
			tg.isKey = append(tg.isKey, slices.Contains(t.Table.Key, name))
		}
		tg.decide, tg.names = decideTable(t)
		out[i] = tg
	}
	return out, nil
}

// decideTable is what Decide needs of t, and the names of t's writable
// columns by id.
func decideTable(t changelog.Tracked) (rules.Table, map[int64]string) {
	dt := rules.Table{Policy: t.Policy}
	names := map[int64]string{}
	for _, c := range t.Table.Writable() {
		id := t.ColumnIDs[c.Name]
		names[id] = c.Name
		if !slices.Contains(t.Table.Key, c.Name) {
			dt.Cols = append(dt.Cols, id)
		}
	}
	return dt, names
}

func column(t schema.Table, name string) (schema.Column, bool) {
	for _, c := range t.Writable() {
		if c.Name == name {
			return c, true
		}
	}
	return schema.Column{}, false
}

// checkSkew refuses a batch with a clock further than maxSkew ahead of now.
func checkSkew(b *codec.Batch, now time.Time, maxSkew time.Duration) error {
	limit := change.HLCAt(now.Add(maxSkew))
	check := func(c codec.Clock) error {
		if c.HLC > limit|0xffff {
			skew := c.HLC.Time().Sub(now).Round(time.Millisecond)
			return fmt.Errorf("%w: site %s wrote a change stamped %s ahead of this node's clock (limit %s)",
				ErrClockSkew, b.Sites[c.Site], skew, maxSkew)
		}
		return nil
	}
	for _, c := range b.Changes {
		if err := check(c.Clock); err != nil {
			return err
		}
		for _, cc := range c.Clocks {
			if err := check(cc); err != nil {
				return err
			}
		}
	}
	return nil
}

// clock resolves a batch clock's site.
func (m *merge) clock(c codec.Clock) change.Clock {
	return change.Clock{HLC: c.HLC, Site: m.b.Sites[c.Site]}
}

// apply merges every change of the batch.
func (m *merge) apply() error {
	keys := map[*target][][]byte{}
	for _, c := range m.b.Changes {
		if c.Op == change.Insert || c.Op == change.Lost {
			continue // insertNew finds out in bulk whether a row has clocks
		}
		t := m.targets[c.Table]
		keys[t] = append(keys[t], changelog.KeyBytes(c.Key))
	}
	for t, ks := range keys {
		if err := m.s.preload(t.ID, ks); err != nil {
			return err
		}
	}
	cs := m.b.Changes
	if err := m.uniqueNotices(); err != nil {
		return err
	}
	var notices []codec.Change
	for i := 0; i < len(cs); {
		if cs[i].Op == change.Lost {
			if m.role != rules.RoleDevice {
				return fmt.Errorf("change %d: %w", i, ErrNotice)
			}
			if !isUniqueNotice(cs[i]) {
				notices = append(notices, cs[i])
			}
			i++
			continue
		}
		if n := m.newRowRun(cs[i:]); n > 1 {
			if err := m.insertNew(m.targets[cs[i].Table], cs[i:i+n]); err != nil {
				return fmt.Errorf("changes %d-%d (insert %s): %w", i, i+n-1, m.targets[cs[i].Table].Table.Name, err)
			}
			i += n
			continue
		}
		if err := m.one(m.targets[cs[i].Table], cs[i]); err != nil {
			return fmt.Errorf("change %d (%s %s): %w", i, cs[i].Op, m.targets[cs[i].Table].Table.Name, err)
		}
		i++
	}
	if err := m.settle(); err != nil {
		return err
	}
	if err := m.orphans(m.fkeys); err != nil {
		return err
	}
	return m.notices(notices)
}

// maxParams bounds the values bound to one statement (SQLite allows 32766).
const maxParams = 30000

// newRowRun returns how many changes at the start of cs insert rows into the
// same table with the same columns, each column written with the row: the
// bulk of a first sync, which insertNew writes many rows per statement when
// this node has neither those rows nor clocks for them.
func (m *merge) newRowRun(cs []codec.Change) int {
	first := cs[0]
	limit := max(1, min(200, maxParams/(len(first.Columns)+5)))
	n := 0
	for n < len(cs) && n < limit && m.isNewRow(cs[n], first) {
		n++
	}
	return n
}

func (m *merge) isNewRow(c, like codec.Change) bool {
	if c.Op != change.Insert || c.Table != like.Table || !slices.Equal(c.Columns, like.Columns) {
		return false
	}
	for _, cc := range c.Clocks {
		if cc != c.Clock {
			return false
		}
	}
	return true
}

// insertNew inserts rows, and their clocks, a few statements for many rows.
// If any of them has a clock already (it was written or deleted before), or
// the row exists (it was there before install), or breaks a constraint, it
// undoes that and merges the rows one by one, which handles those cases.
func (m *merge) insertNew(t *target, cs []codec.Change) error {
	// Number the sites before the savepoint: a rollback to it would undo
	// a new site's row, but not the store's memory of it.
	for _, c := range cs {
		if _, err := m.s.siteNumber(m.b.Sites[c.Clock.Site]); err != nil {
			return err
		}
	}
	if _, err := m.tx.ExecContext(m.ctx, `SAVEPOINT deltasync_bulk`); err != nil {
		return err
	}
	var clocked int64
	var err error
	if m.role == rules.RoleDevice {
		clocked, err = m.unclocked(t, cs)
	} else {
		clocked, err = m.bulkClocks(t, cs)
	}
	var inserted int64
	if err == nil && clocked == int64(len(cs)) {
		inserted, err = m.bulkRows(t, cs)
	}
	if err != nil || clocked != int64(len(cs)) || inserted != int64(len(cs)) {
		if _, err := m.tx.ExecContext(m.ctx, `ROLLBACK TO deltasync_bulk; RELEASE deltasync_bulk`); err != nil {
			return err
		}
		for _, c := range cs {
			if err := m.one(t, c); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range cs {
		m.s.observe(c.Clock.HLC) // the node's clock moves past them
		for _, cc := range c.Clocks {
			m.s.observe(cc.HLC)
		}
	}
	_, err = m.tx.ExecContext(m.ctx, `RELEASE deltasync_bulk`)
	return err
}

func (m *merge) bulkRows(t *target, cs []codec.Change) (int64, error) {
	q := t.statement("insert", cs[0].Columns)
	tuple := q[strings.LastIndex(q, " VALUES ")+len(" VALUES "):]
	q += strings.Repeat(", "+tuple, len(cs)-1) + " ON CONFLICT DO NOTHING"
	var args []any
	for _, c := range cs {
		if t.Table.KeyKind == schema.KeyRowid {
			args = append(args, c.Key[0])
		}
		args = append(args, c.Values...)
	}
	res, err := m.tx.ExecContext(m.ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// unclocked returns len(cs) if none of the rows of cs has a clock on this
// node, and fewer otherwise.
func (m *merge) unclocked(t *target, cs []codec.Change) (int64, error) {
	if m.clocked == nil {
		m.clocked = map[int64]bool{}
	}
	has, ok := m.clocked[t.ID]
	if !ok {
		err := sqlx.GetContext(m.ctx, m.tx, &has, `SELECT EXISTS (SELECT 1 FROM _sync_clock WHERE tbl = ?)`, t.ID)
		if err != nil {
			return 0, err
		}
		m.clocked[t.ID] = has
	}
	if !has {
		return int64(len(cs)), nil
	}
	args := []any{t.ID}
	for _, c := range cs {
		args = append(args, changelog.KeyBytes(c.Key))
	}
	var n int64
	err := sqlx.GetContext(m.ctx, m.tx, &n, `SELECT count(DISTINCT key) FROM _sync_clock WHERE tbl = ? AND key IN (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(cs)), ", ")+`)`, args...)
	return int64(len(cs)) - n, err
}

// bulkClocks records the row clocks of cs where the rows have none, and
// returns how many it recorded.
func (m *merge) bulkClocks(t *target, cs []codec.Change) (int64, error) {
	args := make([]any, 0, 5*len(cs))
	for _, c := range cs {
		site, err := m.s.siteNumber(m.b.Sites[c.Clock.Site])
		if err != nil {
			return 0, err
		}
		key := changelog.KeyBytes(c.Key)
		m.s.forget(t.ID, key)
		args = append(args, t.ID, key, c.Clock.HLC, site, m.stamp().Arrived)
	}
	q := `INSERT INTO _sync_clock (tbl, key, col, hlc, site, arrived) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, 0, ?, ?, nullif(?, 0)), ", len(cs)), ", ") +
		` ON CONFLICT DO NOTHING`
	res, err := m.tx.ExecContext(m.ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (m *merge) change(t *target, c codec.Change) error {
	return writeError(t, c, m.changeRow(t, c))
}

// writeError explains a write that a constraint of this node's table
// refused: a UNIQUE one with ErrUnique, any other with ErrConstraint. Both
// are the batch's fault, not this node's, and the batch is refused whole.
func writeError(t *target, c codec.Change, err error) error {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return err
	}
	if what, ok := missingFeature(se); ok {
		return fmt.Errorf("%w: writing to %q needs %s (the app's schema uses it, in a trigger or a virtual table), which this build of SQLite lacks; "+
			"build deltasync with `make build`, which enables FTS5 and the math functions: %v", ErrMissingFeature, t.Table.Name, what, err)
	}
	if se.Code != sqlite3.ErrConstraint {
		return err
	}
	if se.ExtendedCode == sqlite3.ErrConstraintUnique {
		return uniqueError(t, c, err)
	}
	return fmt.Errorf("%w: row %s of %q: %s; the device that wrote it must change it (or the table's schema must allow it), then sync again",
		ErrConstraint, change.KeyLiteral(c.Key), t.Table.Name, constraintText(t, se))
}

// missingFeature names the module or function SQLite says it does not
// have: "no such module: fts5", "no such function: sqrt".
func missingFeature(se sqlite3.Error) (string, bool) {
	msg := se.Error()
	for _, kind := range []string{"module", "function"} {
		if _, name, ok := strings.Cut(msg, "no such "+kind+": "); ok {
			return "the " + kind + " " + strings.TrimSpace(name), true
		}
	}
	return "", false
}

// constraintText says which constraint SQLite names, and the column when
// it names one ("NOT NULL constraint failed: tbl.col", "cannot store TEXT
// value in INTEGER column tbl.col", "CHECK constraint failed: name").
func constraintText(t *target, se sqlite3.Error) string {
	msg := se.Error()
	col := func(after string) string {
		i := strings.LastIndex(msg, after)
		if i < 0 {
			return ""
		}
		return strings.TrimPrefix(msg[i+len(after):], t.Table.Name+".")
	}
	switch se.ExtendedCode {
	case sqlite3.ErrConstraintNotNull:
		return fmt.Sprintf("column %q is NULL, which its NOT NULL constraint refuses", col("failed: "))
	case sqlite3.ErrConstraintCheck:
		return fmt.Sprintf("it breaks the CHECK constraint %s", col("failed: "))
	case errConstraintDatatype:
		return fmt.Sprintf("column %q of a STRICT table refuses the value's type (%s)", col(" column "), msg)
	}
	return msg
}

// errConstraintDatatype is SQLITE_CONSTRAINT_DATATYPE: a STRICT table
// refused a value's type. go-sqlite3 names no constant for it.
var errConstraintDatatype = sqlite3.ErrNoExtended(int(sqlite3.ErrConstraint) | 12<<8)

// uniqueError explains a write refused by a UNIQUE constraint other than
// the key: two devices gave one value to two different rows. No policy can
// merge that without losing one row, so the batch is refused, whole, until
// someone changes one of them.
func uniqueError(t *target, c codec.Change, err error) error {
	var se sqlite3.Error
	if !errors.As(err, &se) || se.ExtendedCode != sqlite3.ErrConstraintUnique {
		return err
	}
	// SQLite says "UNIQUE constraint failed: tbl.col1, tbl.col2".
	msg := se.Error()
	var cols []string
	for _, tc := range strings.Split(msg[strings.LastIndex(msg, ": ")+2:], ", ") {
		cols = append(cols, tc[strings.IndexByte(tc, '.')+1:])
	}
	return fmt.Errorf("%w: row %s of %q would take a value of %s that another row holds "+
		"(two devices gave it to two rows, or one device moved it between rows, which a merge cannot replay row by row); "+
		"change or delete one of the two rows, then sync again", ErrUnique, change.KeyLiteral(c.Key), t.Table.Name, strings.Join(cols, ", "))
}

// changeRow merges one change: it reads what Decide needs, asks it, and
// applies the verdict.
func (m *merge) changeRow(t *target, c codec.Change) error {
	key := changelog.KeyBytes(c.Key)
	v, err := m.decide(t, c, key)
	if err != nil {
		return err
	}
	if err := m.applyVerdict(t, c, key, v); err != nil {
		return err
	}
	if v.Stale {
		return fmt.Errorf("%w: the hub built it at version %d, before this node's last push landed (version %d), and it would replace this node's write to %s",
			ErrStale, m.b.Head, m.ackedAfter, t.Table.Name)
	}
	return nil
}

// decide reads what this node holds of c's row and decides c's merge. The
// node's clock moves past every clock the decision looked at.
func (m *merge) decide(t *target, c codec.Change, key []byte) (rules.Verdict, error) {
	local, err := m.local(t, c, key)
	if err != nil {
		return rules.Verdict{}, err
	}
	v := rules.Decide(m.merger(), t.decide, local, m.incoming(t, c))
	m.s.observe(v.HLC)
	return v, nil
}

// merger is who merges this batch, as Decide needs it.
func (m *merge) merger() rules.Merger {
	return rules.Merger{Role: m.role, Self: m.s.self, Origin: m.origin, BeforePush: m.ackedAfter != 0}
}

// local reads what Decide needs of c's row: its clocks, whether it exists
// (a delete needs not know), and the device's writes to it not pushed yet.
func (m *merge) local(t *target, c codec.Change, key []byte) (rules.Local, error) {
	var l rules.Local
	var err error
	if l.Clocks, err = m.s.load(t.ID, key); err != nil {
		return l, err
	}
	if c.Op != change.Delete {
		if l.Exists, err = m.exists(t, c.Key); err != nil {
			return l, err
		}
	}
	if m.pending != nil {
		m.kbuf = appendCacheKey(m.kbuf[:0], t.ID, key)
		l.Pending = m.pending[string(m.kbuf)] // no allocation: looked up without copying
	}
	return l, nil
}

// incoming is c as Decide takes it, its clocks resolved to sites. Its
// columns reuse one buffer from change to change: a verdict keeps none.
func (m *merge) incoming(t *target, c codec.Change) rules.Incoming {
	cols := m.cols[:0]
	for i, ci := range c.Columns {
		cols = append(cols, rules.ColumnWrite{ID: t.ids[ci], Key: t.isKey[ci], Clock: m.clock(c.Clocks[i]), Seen: c.Clocks[i].Seen})
	}
	m.cols = cols
	return rules.Incoming{Op: c.Op, Clock: m.clock(c.Clock), Seen: c.Clock.Seen, Cols: cols}
}

// applyVerdict writes what Decide decided. Each kind of write keeps the
// order the merge has always written in: a loss is recorded with the
// values from before the change.
func (m *merge) applyVerdict(t *target, c codec.Change, key []byte, v rules.Verdict) error {
	switch v.Write {
	case rules.WriteDelete:
		return m.deleteRow(t, c, key, v)
	case rules.WriteInsert:
		return m.insertRow(t, c, key, v)
	case rules.WriteRow:
		return m.writeRow(t, c, key, v)
	case rules.WriteColumns:
		return m.writeCols(t, c, key, v)
	}
	return m.recordLosses(t, c, v)
}

func (m *merge) deleteRow(t *target, c codec.Change, key []byte, v rules.Verdict) error {
	if err := m.recordLosses(t, c, v); err != nil {
		return err
	}
	res, err := m.exec(t, "delete", nil, c.Key...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// No trigger fired, but the row's register changed: log it, so that
		// a hub serves the delete to the nodes that still have the row.
		if err := m.logChange(t, change.Delete, nil, c.Key); err != nil {
			return err
		}
	}
	return m.storeClocks(t, key, v)
}

// insertRow writes a row this node does not have, with every value the
// change carries.
func (m *merge) insertRow(t *target, c codec.Change, key []byte, v rules.Verdict) error {
	if err := m.recordLosses(t, c, v); err != nil {
		return err
	}
	args := c.Values
	if t.Table.KeyKind == schema.KeyRowid {
		args = append([]any{c.Key[0]}, c.Values...)
	}
	if _, err := m.exec(t, "insert", c.Columns, args...); err != nil {
		return err
	}
	return m.storeClocks(t, key, v)
}

// writeRow writes a whole row over the live one.
func (m *merge) writeRow(t *target, c codec.Change, key []byte, v rules.Verdict) error {
	if err := m.recordLosses(t, c, v); err != nil {
		return err
	}
	if err := m.writeColumns(t, c.Columns, c.Values, c.Key); err != nil {
		return err
	}
	if err := m.logChange(t, change.Insert, nil, c.Key); err != nil {
		return err
	}
	return m.storeClocks(t, key, v)
}

// writeCols writes the columns that won.
func (m *merge) writeCols(t *target, c codec.Change, key []byte, v rules.Verdict) error {
	if err := m.storeClocks(t, key, v); err != nil {
		return err
	}
	cols := make([]int, len(v.Cols))
	vals := make([]any, len(v.Cols))
	for j, i := range v.Cols {
		cols[j], vals[j] = c.Columns[i], c.Values[i]
		// The trigger logs nothing if the value is the same, yet the
		// column's clock moved: log it, so that a hub serves the new clock.
		if err := m.logChange(t, change.Update, &t.ids[c.Columns[i]], c.Key); err != nil {
			return err
		}
	}
	if err := m.recordLosses(t, c, v); err != nil {
		return err
	}
	if v.Register {
		if err := m.logChange(t, change.Insert, nil, c.Key); err != nil {
			return err
		}
	}
	if len(cols) == 0 {
		return nil
	}
	return m.writeColumns(t, cols, vals, c.Key)
}

// storeClocks stores the clocks a verdict keeps, stamped with the version
// this batch arrives at on the hub.
func (m *merge) storeClocks(t *target, key []byte, v rules.Verdict) error {
	if v.DropCols {
		if err := m.s.dropCols(t.ID, key); err != nil {
			return err
		}
	}
	for _, w := range v.Clocks {
		var err error
		if w.Col == 0 {
			err = m.s.setRow(t.ID, key, w.Clock, w.Dead, m.stamp())
		} else {
			err = m.s.setCol(t.ID, key, w.Col, w.Clock, m.stamp())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// maxShapes is how many column sets of one table a merge prepares an
// update statement of their own for. Preparing compiles the table's
// triggers and costs about 0.3 ms, more than an update: a batch of a
// different column set per change (65,535 of them on a table of 16
// columns) took 30 s and 1 GB to merge. Past maxShapes, every other set
// shares one statement (see writeColumns), so a merge's cost stays
// proportional to its batch. Honest batches have a few sets per table.
const maxShapes = 32

// writeColumns updates the columns cols of the row key to vals, with the
// column set's own statement if it has or may have one, and otherwise with
// the statement that writes any set of t's columns: each column is set
// either to its new value or to itself, by a flag. Setting a column to
// itself logs nothing (the triggers compare values) but does fire an app's
// UPDATE OF trigger on it.
func (m *merge) writeColumns(t *target, cols []int, vals, key []any) error {
	if t.shaped(cols) {
		_, err := m.exec(t, "update", cols, append(slices.Clone(vals), key...)...)
		return err
	}
	args := make([]any, 2*len(t.cols), 2*len(t.cols)+len(key))
	for ci := range t.cols {
		args[2*ci] = false
	}
	for j, ci := range cols {
		args[2*ci], args[2*ci+1] = true, vals[j]
	}
	_, err := m.exec(t, "anyupdate", nil, append(args, key...)...)
	return err
}

// shaped reports whether the update of cols has its own statement, giving
// it one if t has had fewer than maxShapes.
func (t *target) shaped(cols []int) bool {
	if _, ok := t.sql[fmt.Sprint("update", cols)]; ok {
		return true
	}
	if t.updates >= maxShapes {
		return false
	}
	t.updates++
	return true
}

// logChange logs a merge that changed a row's clocks, for when the write
// itself may have fired no trigger. Duplicates of what the triggers logged
// coalesce when the changelog is read.
func (m *merge) logChange(t *target, op change.Op, col *int64, key []any) error {
	args := append([]any{t.ID, int(op), col}, key...)
	_, err := m.exec(t, "log", nil, args...)
	return err
}

func (m *merge) exists(t *target, key []any) (bool, error) {
	var n int
	st, err := m.prepared(t, "exists", nil)
	if err != nil {
		return false, err
	}
	err = st.QueryRowContext(m.ctx, key...).Scan(&n)
	return n > 0, err
}

// prepared returns the statement of one kind of write to t, prepared once
// per merge: preparing compiles the app's and deltasync's triggers into the
// statement, which costs more than running it.
func (m *merge) prepared(t *target, kind string, cols []int) (*sqlx.Stmt, error) {
	return m.prepare(t.statement(kind, cols))
}

// prepare returns the statement of q, prepared once per merge.
func (m *merge) prepare(q string) (*sqlx.Stmt, error) {
	if st, ok := m.stmts[q]; ok {
		return st, nil
	}
	st, err := m.tx.PreparexContext(m.ctx, q)
	if err != nil {
		return nil, err
	}
	if m.prepares != nil {
		m.prepares.Add(1)
	}
	if m.stmts == nil {
		m.stmts = map[string]*sqlx.Stmt{}
	}
	m.stmts[q] = st
	return st, nil
}

func (m *merge) exec(t *target, kind string, cols []int, args ...any) (sql.Result, error) {
	st, err := m.prepared(t, kind, cols)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(m.ctx, args...)
}

// close releases the prepared statements.
func (m *merge) close() {
	for _, st := range m.stmts {
		st.Close()
	}
}

// statement returns the SQL of one kind of write to t, for the given batch
// columns, built once from the receiver's own names.
func (t *target) statement(kind string, cols []int) string {
	cacheKey := fmt.Sprint(kind, cols)
	if q, ok := t.sql[cacheKey]; ok {
		return q
	}
	tbl := schema.Ident(t.Table.Name)
	where := keyWhere(t.Table)
	var q string
	switch kind {
	case "select":
		q = conflictSelect(t.Table)
	case "exists":
		q = fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s`, tbl, where)
	case "delete":
		q = fmt.Sprintf(`DELETE FROM %s WHERE %s`, tbl, where)
	case "insert":
		names := make([]string, len(cols))
		for i, ci := range cols {
			names[i] = schema.Ident(t.cols[ci].Name)
		}
		q = fmt.Sprintf(`INSERT INTO %s (%s) VALUES (%s)`, tbl, strings.Join(names, ", "),
			strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", "))
		if t.Table.KeyKind == schema.KeyRowid {
			// The rowid is the key but not a column: insert it by its name.
			q = fmt.Sprintf(`INSERT INTO %s (%s, %s) VALUES (%s)`, tbl, schema.Ident(t.Table.Key[0]), strings.Join(names, ", "),
				strings.TrimSuffix(strings.Repeat("?, ", len(cols)+1), ", "))
		}
	case "log":
		q = changelog.LogSQL(len(t.Table.Key))
	case "update":
		sets := make([]string, len(cols))
		for i, ci := range cols {
			sets[i] = schema.Ident(t.cols[ci].Name) + " = ?"
		}
		q = fmt.Sprintf(`UPDATE %s SET %s WHERE %s`, tbl, strings.Join(sets, ", "), where)
	case "anyupdate":
		q = t.anyUpdate()
	}
	t.sql[cacheKey] = q
	return q
}

// anyUpdate is the UPDATE that writes any set of the batch's columns of t:
// parameters 2i+1 and 2i+2 are column i's flag and value, then the key.
// Key columns are left out: a change writes them only with the key's own
// value (checkKey), which changes nothing. (The key has at most 4 columns,
// so a batch that reaches this statement has at least one other.)
func (t *target) anyUpdate() string {
	var sets []string
	for ci, c := range t.cols {
		if c.KeyIndex == 0 {
			col := schema.Ident(c.Name)
			sets = append(sets, fmt.Sprintf("%s = CASE WHEN ?%d THEN ?%d ELSE %s END", col, 2*ci+1, 2*ci+2, col))
		}
	}
	parts := make([]string, len(t.Table.Key))
	for i, k := range t.Table.Key {
		parts[i] = fmt.Sprintf("%s IS ?%d", schema.Ident(k), 2*len(t.cols)+i+1)
	}
	return fmt.Sprintf(`UPDATE %s SET %s WHERE %s`, schema.Ident(t.Table.Name), strings.Join(sets, ", "), strings.Join(parts, " AND "))
}

func keyWhere(t schema.Table) string {
	parts := make([]string, len(t.Key))
	for i, k := range t.Key {
		parts[i] = schema.Ident(k) + " IS ?" // IS: SQLite allows NULL in a non-integer primary key
	}
	return strings.Join(parts, " AND ")
}
