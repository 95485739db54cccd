package replicator

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/replicator/rules"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
)

// querier is a transaction: *sqlx.Tx for writing, or a *sqlx.Conn inside
// BEGIN for a read snapshot.
type querier interface {
	sqlx.QueryerContext
	sqlx.ExecerContext
	PreparexContext(ctx context.Context, query string) (*sqlx.Stmt, error)
}

// clockStore reads and writes a node's clocks (_sync_clock, _sync_sites)
// inside one transaction, with a cache of the rows a batch touches.
type clockStore struct {
	ctx   context.Context
	wctx  context.Context // ctx for writes: see uncancelled
	tx    querier
	self  change.SiteID
	hlc   change.HLC // the last HLC this node issued or saw
	moved bool       // hlc changed and must be saved
	sites map[change.SiteID]int64
	ids   map[int64]change.SiteID
	known map[string]rules.RowClocks // clocks preloaded for a batch; a write to a row forgets it
	keep  bool                       // remember: known also keeps the clocks absorb writes
	kbuf  []byte                     // a cache key, to look one up without allocating
	stmt  struct{ load, setRow, setCol, dropCols *sqlx.Stmt }
}

func newClockStore(ctx context.Context, tx querier, self change.SiteID) (*clockStore, error) {
	s := &clockStore{ctx: ctx, wctx: uncancelled(ctx), tx: tx, self: self, sites: map[change.SiteID]int64{}, ids: map[int64]change.SiteID{}}
	if err := changelog.ReadState(ctx, tx, changelog.StateHLC, &s.hlc); err != nil {
		return nil, fmt.Errorf("read clock: %w", err)
	}
	for dst, q := range map[**sqlx.Stmt]string{
		&s.stmt.load: `SELECT col, hlc, site, dead, ifnull(seen, 0), ifnull(arrived, 0) FROM _sync_clock WHERE tbl = ? AND key = ?`,
		&s.stmt.setRow: `INSERT INTO _sync_clock (tbl, key, col, hlc, site, dead, seen, arrived) VALUES (?, ?, 0, ?, ?, ?, nullif(?, 0), nullif(?, 0))
			ON CONFLICT DO UPDATE SET hlc = excluded.hlc, site = excluded.site, dead = excluded.dead,
				seen = excluded.seen, arrived = excluded.arrived`,
		&s.stmt.setCol: `INSERT INTO _sync_clock (tbl, key, col, hlc, site, seen, arrived) VALUES (?, ?, ?, ?, ?, nullif(?, 0), nullif(?, 0))
			ON CONFLICT DO UPDATE SET hlc = excluded.hlc, site = excluded.site, seen = excluded.seen, arrived = excluded.arrived`,
		&s.stmt.dropCols: `DELETE FROM _sync_clock WHERE tbl = ? AND key = ? AND col <> 0`,
	} {
		st, err := tx.PreparexContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("prepare clock statements: %w", err)
		}
		*dst = st
	}
	return s, nil
}

// uncancelled returns ctx without its cancellation, for the statements a
// transaction runs one row at a time. go-sqlite3 runs every statement
// executed under a context that can be cancelled in a goroutine of its
// own, to interrupt it: that doubled the cost of a one-row upsert (3.6
// against 2.0 us). The transaction still ends when ctx is cancelled:
// database/sql, which began it with ctx, rolls it back once the statement
// running finishes and refuses the next one.
func uncancelled(ctx context.Context) context.Context {
	return context.WithoutCancel(ctx)
}

// close saves the node's HLC if it moved; the transaction commits or rolls
// back it all.
func (s *clockStore) close() error {
	for _, st := range []*sqlx.Stmt{s.stmt.load, s.stmt.setRow, s.stmt.setCol, s.stmt.dropCols} {
		if st != nil {
			st.Close()
		}
	}
	if !s.moved {
		return nil
	}
	return changelog.SetState(s.wctx, s.tx, changelog.StateHLC, s.hlc)
}

// next issues the HLC of a local write made at t.
func (s *clockStore) next(t time.Time) change.HLC {
	h := change.HLCAt(t)
	if h == 0 {
		return 0 // baseline
	}
	s.hlc, s.moved = max(h, s.hlc+1), true
	return s.hlc
}

// observe raises the node's HLC past a merged clock.
func (s *clockStore) observe(hlc change.HLC) {
	if hlc > s.hlc {
		s.hlc, s.moved = hlc, true
	}
}

func (s *clockStore) load(tbl int64, key []byte) (rules.RowClocks, error) {
	if r, ok := s.lookup(tbl, key); ok {
		return r, nil
	}
	rows, err := s.stmt.load.QueryContext(s.ctx, tbl, key)
	if err != nil {
		return rules.RowClocks{}, fmt.Errorf("read clocks: %w", err)
	}
	defer rows.Close()
	var r rules.RowClocks
	var c clockRow
	for rows.Next() {
		if err := rows.Scan(c.dest()...); err != nil {
			return r, err
		}
		if err := c.addTo(s, &r); err != nil {
			return r, err
		}
	}
	return r, rows.Err()
}

// clockRow is a row of _sync_clock as the store reads it: col, hlc, site,
// dead, seen, arrived. Its integers are scanned as int64: database/sql
// converts an int64 into a *uint64 by formatting it and parsing it back.
type clockRow struct {
	col, hlc, site, seen, arrived int64
	dead                          bool
}

func (c *clockRow) dest() []any {
	return []any{&c.col, &c.hlc, &c.site, &c.dead, &c.seen, &c.arrived}
}

func (c *clockRow) addTo(s *clockStore, r *rules.RowClocks) error {
	return s.addClock(r, c.col, change.HLC(c.hlc), c.site, c.dead, rules.Stamp{Seen: change.Version(c.seen), Arrived: change.Version(c.arrived)})
}

func (s *clockStore) addClock(r *rules.RowClocks, col int64, hlc change.HLC, site int64, dead bool, st rules.Stamp) error {
	id, err := s.site(site)
	if err != nil {
		return err
	}
	if st != (rules.Stamp{}) {
		if r.Stamps == nil {
			r.Stamps = map[int64]rules.Stamp{}
		}
		r.Stamps[col] = st
	}
	c := change.Clock{HLC: hlc, Site: id}
	if col == 0 {
		r.Row, r.Dead = &c, dead
		return nil
	}
	if r.Cols == nil {
		r.Cols = map[int64]change.Clock{}
	}
	r.Cols[col] = c
	return nil
}

func cacheKey(tbl int64, key []byte) string {
	return string(appendCacheKey(nil, tbl, key))
}

func appendCacheKey(dst []byte, tbl int64, key []byte) []byte {
	return append(binary.AppendVarint(dst, tbl), key...)
}

// lookup returns a row's known clocks.
func (s *clockStore) lookup(tbl int64, key []byte) (rules.RowClocks, bool) {
	s.kbuf = appendCacheKey(s.kbuf[:0], tbl, key)
	r, ok := s.known[string(s.kbuf)] // no allocation: the compiler looks up without copying
	return r, ok
}

// preloadChunk is how many keys one preload query asks for.
const preloadChunk = 400

// preload reads the clocks of many rows of one table in a few queries, so
// that merging or sending a batch does not query once per row.
func (s *clockStore) preload(tbl int64, keys [][]byte) error {
	if s.known == nil {
		s.known = map[string]rules.RowClocks{}
	}
	var has bool
	err := sqlx.GetContext(s.ctx, s.tx, &has, `SELECT EXISTS (SELECT 1 FROM _sync_clock WHERE tbl = ?)`, tbl)
	if err != nil {
		return fmt.Errorf("read clocks: %w", err)
	}
	if !has { // a table never synced, as on a new device: no clocks to read
		for _, k := range keys {
			s.known[cacheKey(tbl, k)] = rules.RowClocks{}
		}
		return nil
	}
	if len(keys) >= preloadScanMin {
		var rows int
		if err := sqlx.GetContext(s.ctx, s.tx, &rows, `SELECT count(*) FROM _sync_clock WHERE tbl = ?`, tbl); err != nil {
			return fmt.Errorf("count clocks: %w", err)
		}
		if len(keys)*4 >= rows {
			return s.preloadTable(tbl, keys)
		}
	}
	for len(keys) > 0 {
		n := min(len(keys), preloadChunk)
		if err := s.preloadChunk(tbl, keys[:n]); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// preloadScanMin is the fewest keys for which reading all of a table's
// clocks is considered: looking keys up costs about 3 us each, reading in
// order a fraction of that.
const preloadScanMin = 5000

// preloadTable reads every clock of a table and keeps those of keys.
func (s *clockStore) preloadTable(tbl int64, keys [][]byte) error {
	for _, k := range keys {
		s.known[cacheKey(tbl, k)] = rules.RowClocks{}
	}
	rows, err := s.tx.QueryContext(s.ctx, `SELECT key, col, hlc, site, dead, ifnull(seen, 0), ifnull(arrived, 0) FROM _sync_clock WHERE tbl = ?`, tbl)
	if err != nil {
		return fmt.Errorf("read clocks: %w", err)
	}
	defer rows.Close()
	return s.addRows(tbl, rows)
}

func (s *clockStore) preloadChunk(tbl int64, keys [][]byte) error {
	args := make([]any, 0, len(keys)+1)
	args = append(args, tbl)
	for _, k := range keys {
		args = append(args, k)
		s.known[cacheKey(tbl, k)] = rules.RowClocks{}
	}
	q := `SELECT key, col, hlc, site, dead, ifnull(seen, 0), ifnull(arrived, 0) FROM _sync_clock WHERE tbl = ? AND key IN (` +
		strings.TrimSuffix(strings.Repeat("?,", len(keys)), ",") + `)`
	rows, err := s.tx.QueryContext(s.ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read clocks: %w", err)
	}
	defer rows.Close()
	return s.addRows(tbl, rows)
}

// addRows adds clock rows (key, col, hlc, site, dead, seen, arrived) to the preloaded
// clocks of the keys preload asked for.
func (s *clockStore) addRows(tbl int64, rows *sql.Rows) error {
	var key sql.RawBytes // only looked up: not copied
	var c clockRow
	dest := append([]any{&key}, c.dest()...)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		r, asked := s.lookup(tbl, key)
		if !asked {
			continue
		}
		if err := c.addTo(s, &r); err != nil {
			return err
		}
		s.known[string(s.kbuf)] = r // s.kbuf: the key lookup built
	}
	return rows.Err()
}

// remember records r, with every clock stamped st, as a row's clocks in
// _sync_clock, if the store keeps what it writes.
func (s *clockStore) remember(tbl int64, key []byte, r rules.RowClocks, st rules.Stamp) {
	if !s.keep {
		return
	}
	if s.known == nil {
		s.known = map[string]rules.RowClocks{}
	}
	if st != (rules.Stamp{}) {
		r.Stamps = map[int64]rules.Stamp{0: st}
		for id := range r.Cols {
			r.Stamps[id] = st
		}
	}
	s.known[cacheKey(tbl, key)] = r
}

// isKnown reports whether a row's clocks are known without reading them.
func (s *clockStore) isKnown(tbl int64, key []byte) bool {
	_, ok := s.lookup(tbl, key)
	return ok
}

// forget drops a row's preloaded clocks before it is written.
func (s *clockStore) forget(tbl int64, key []byte) {
	if s.known != nil {
		delete(s.known, cacheKey(tbl, key))
	}
}

// forgetAll drops every clock and site number the store knows, after a
// rollback to a savepoint that may have undone some of them.
func (s *clockStore) forgetAll() {
	s.known = nil
	s.sites, s.ids = map[change.SiteID]int64{}, map[int64]change.SiteID{}
}

func (s *clockStore) setRow(tbl int64, key []byte, c change.Clock, dead bool, st rules.Stamp) error {
	s.forget(tbl, key)
	site, err := s.siteNumber(c.Site)
	if err != nil {
		return err
	}
	_, err = s.stmt.setRow.ExecContext(s.wctx, tbl, key, c.HLC, site, dead, st.Seen, st.Arrived)
	return err
}

func (s *clockStore) setCol(tbl int64, key []byte, col int64, c change.Clock, st rules.Stamp) error {
	s.forget(tbl, key)
	site, err := s.siteNumber(c.Site)
	if err != nil {
		return err
	}
	_, err = s.stmt.setCol.ExecContext(s.wctx, tbl, key, col, c.HLC, site, st.Seen, st.Arrived)
	return err
}

func (s *clockStore) dropCols(tbl int64, key []byte) error {
	s.forget(tbl, key)
	_, err := s.stmt.dropCols.ExecContext(s.wctx, tbl, key)
	return err
}

// siteNumber returns the small number _sync_clock uses for a site, adding it if new.
func (s *clockStore) siteNumber(id change.SiteID) (int64, error) {
	if n, ok := s.sites[id]; ok {
		return n, nil
	}
	var n int64
	err := sqlx.GetContext(s.ctx, s.tx, &n, `SELECT id FROM _sync_sites WHERE site_id = ?`, id[:])
	if errors.Is(err, sql.ErrNoRows) {
		err = sqlx.GetContext(s.ctx, s.tx, &n, `INSERT INTO _sync_sites (site_id) VALUES (?) RETURNING id`, id[:])
	}
	if err != nil {
		return 0, fmt.Errorf("record site %s: %w", id, err)
	}
	s.sites[id], s.ids[n] = n, id
	return n, nil
}

func (s *clockStore) site(n int64) (change.SiteID, error) {
	if id, ok := s.ids[n]; ok {
		return id, nil
	}
	var b []byte
	if err := sqlx.GetContext(s.ctx, s.tx, &b, `SELECT site_id FROM _sync_sites WHERE id = ?`, n); err != nil {
		return change.SiteID{}, fmt.Errorf("read site %d: %w", n, err)
	}
	var id change.SiteID
	copy(id[:], b)
	s.sites[id], s.ids[n] = n, id
	return id, nil
}

// onlyMine keeps, of a device's change, what the device itself wrote: a
// value a merge wrote over its write came from the hub, which has it or
// newer, and sending it back would look like the device's own write.
func (s *clockStore) onlyMine(c changelog.Change, row change.Clock, clocks []change.Clock) (changelog.Change, []change.Clock, bool) {
	if c.Op != change.Update {
		return c, clocks, row.Site == s.self
	}
	out := c
	out.Columns, out.Values, clocks = nil, nil, slices.Clone(clocks)
	var kept []change.Clock
	for i, name := range c.Columns {
		if clocks[i].Site == s.self {
			out.Columns = append(out.Columns, name)
			out.Values = append(out.Values, c.Values[i])
			kept = append(kept, clocks[i])
		}
	}
	return out, kept, len(kept) > 0
}
