package changelog

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
)

// ApplyOptions tune ApplyRemoteWith.
type ApplyOptions struct {
	// Discard: this node never serves what fn writes, so its changelog
	// keeps none of it. For a device merging a pull from its hub: only a
	// hub serves merged changes, and a device's push skips the versions a
	// merge logged anyway. Nothing is recorded in _sync_applied either, and
	// the versions fn's writes took are free again: nobody outside the
	// transaction saw them. (A table whose baseline was not taken yet would
	// log the rows fn inserted in its baseline: they would travel back to the
	// hub once, with the baseline's clock, older than any write.)
	Discard bool
	// Writes is about how many rows fn writes. An apply of bulkMin writes
	// or more keeps its statement journals in memory, and with Discard
	// compiles the changelog inserts out of fn's statements; a smaller one
	// deletes what they logged before it commits.
	Writes int
	// CacheKiB, if positive, is the page cache of a bulk apply's
	// connection (of bulkMin writes or more) while it runs; the
	// connection's own is set back after the commit, which frees the pages
	// beyond it. A node whose connections keep a small cache (a hub, whose
	// readers would each fill a large one) gives its large merges a large
	// one: a merge whose working set does not fit writes its pages twice.
	// A smaller apply's working set fits any cache, and it is spared the
	// three statements.
	CacheKiB int
}

// bulkMin is the fewest writes for which ApplyRemoteWith sets up a bulk
// apply. Compiling the changelog inserts out makes every statement of the
// connection compile again, before and after the apply: on a merge of one
// change it cost as much as the insert it saves (measured: 1-change merges
// took about 230 µs either way, 215 µs deleting the row instead).
const bulkMin = 1000

// ApplyRemote runs fn in one write transaction and marks everything the
// triggers log meanwhile as written by origin, so that Read never returns it
// as a local change. If fn returns an error, the transaction is rolled back
// and nothing of it remains.
//
// SQLite has one writer at a time, so no app write can interleave with fn:
// the versions logged between the start and the end of the transaction are
// exactly fn's writes and what the app's own unguarded triggers derived
// from them. The app's guarded triggers do not fire during fn (NotApplying).
func (l *Log) ApplyRemote(ctx context.Context, origin change.SiteID, fn func(tx *sqlx.Tx) error) error {
	return l.ApplyRemoteWith(ctx, origin, ApplyOptions{}, fn)
}

// ApplyRemoteWith is ApplyRemote with options.
func (l *Log) ApplyRemoteWith(ctx context.Context, origin change.SiteID, opt ApplyOptions, fn func(tx *sqlx.Tx) error) (err error) {
	conn, err := l.db.Connx(ctx)
	if err != nil {
		return fmt.Errorf("begin apply: %w", err)
	}
	defer conn.Close()
	restore, err := foreignKeysOff(ctx, conn)
	if err != nil {
		return fmt.Errorf("begin apply: %w", err)
	}
	defer func() {
		if restore() != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // it is ErrBadConn
		}
	}()
	if opt.Writes >= bulkMin {
		restore, err := memoryJournals(ctx, conn)
		if err != nil {
			return fmt.Errorf("begin apply: %w", err)
		}
		defer func() {
			if restore() != nil {
				// Rather than give the pool (the app's, maybe) a
				// connection with another temp_store, drop it.
				conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // it is ErrBadConn
			}
		}()
	}
	if opt.CacheKiB > 0 && opt.Writes >= bulkMin {
		restore, err := cacheSize(ctx, conn, opt.CacheKiB)
		if err != nil {
			return fmt.Errorf("begin apply: %w", err)
		}
		defer func() {
			if restore() != nil {
				conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // it is ErrBadConn
			}
		}()
	}
	if opt.Discard && opt.Writes >= bulkMin {
		unlogged, err := setUnlogged(conn, true)
		if err != nil {
			return fmt.Errorf("begin apply: %w", err)
		}
		if unlogged {
			defer func() {
				if _, rerr := setUnlogged(conn, false); rerr != nil && err == nil {
					err = fmt.Errorf("end apply: %w", rerr)
				}
			}()
		}
	}
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin apply: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback() //nolint:errcheck // the error that made us roll back is the one to report
		}
	}()
	before, err := lastVersion(ctx, tx)
	if err != nil {
		return l.explain(ctx, fmt.Errorf("begin apply: %w", err))
	}
	if err := markApplying(ctx, tx, true); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := markApplying(ctx, tx, false); err != nil {
		return err
	}
	after, err := lastVersion(ctx, tx)
	if err != nil {
		return fmt.Errorf("end apply: %w", err)
	}
	switch {
	case after <= before:
	case opt.Discard:
		if _, err := tx.ExecContext(ctx, `DELETE FROM _sync_changelog WHERE version > ? AND version <= ?`, before, after); err != nil {
			return fmt.Errorf("discard applied versions: %w", err)
		}
	default:
		_, err := tx.ExecContext(ctx, `INSERT INTO _sync_applied (first, last, origin) VALUES (?, ?, ?)`,
			before+1, after, origin[:])
		if err != nil {
			return fmt.Errorf("record applied versions: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit apply: %w", err)
	}
	return nil
}

// memoryJournals keeps conn's statement journals in memory until restore.
//
// A statement that writes several rows, or fires triggers, inside a
// transaction keeps a journal of the pages it changes, to undo itself
// alone; past 64 KiB SQLite spills it to a temporary file unless
// temp_store is MEMORY. A merge's 200-row inserts into a table with
// triggers change hundreds of pages each: with the journals in temporary
// files, replay ran at 0.48-0.51x of plain inserts, in memory at 0.59-0.64x.
// At most one statement's journal is held at a time.
//
// Changing temp_store drops the connection's temporary tables, if it has
// any: such a connection is left as it is.
func memoryJournals(ctx context.Context, conn *sqlx.Conn) (restore func() error, err error) {
	none := func() error { return nil }
	var store, temps int
	if err := conn.GetContext(ctx, &store, `PRAGMA temp_store`); err != nil {
		return nil, err
	}
	if store == 2 {
		return none, nil
	}
	if err := conn.GetContext(ctx, &temps, `SELECT count(*) FROM temp.sqlite_schema`); err != nil || temps > 0 {
		return none, err
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA temp_store = MEMORY`); err != nil {
		return nil, err
	}
	return func() error {
		_, err := conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA temp_store = %d`, store))
		return err
	}, nil
}

// foreignKeysOff turns foreign key enforcement off on conn until restore,
// if an app turned it on (SQLite's default is off; an app sharing the
// pool may have set it on a connection). A batch replays writes whose
// effects travel with it: the children a parent's ON DELETE CASCADE
// deleted at the origin arrive as deletes of their own, and enforcing the
// keys would run those actions again on replay, as the app's triggers
// would. Nor can a batch's order trip a key: a child may come before its
// parent. The merge records instead the rows a batch leaves naming a
// missing parent (orphans, replicator's doc).
func foreignKeysOff(ctx context.Context, conn *sqlx.Conn) (restore func() error, err error) {
	var on bool
	if err := conn.GetContext(ctx, &on, `PRAGMA foreign_keys`); err != nil {
		return nil, err
	}
	if !on {
		return func() error { return nil }, nil
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return nil, err
	}
	return func() error {
		_, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`)
		return err
	}, nil
}

// cacheSize sets conn's page cache to kib KiB until restore sets back the
// one it had.
func cacheSize(ctx context.Context, conn *sqlx.Conn, kib int) (restore func() error, err error) {
	var was int64
	if err := conn.GetContext(ctx, &was, `PRAGMA cache_size`); err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, -kib)); err != nil {
		return nil, err
	}
	return func() error {
		_, err := conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d`, was))
		return err
	}, nil
}

// setUnlogged makes the statements conn compiles from now on leave out
// every insert into the changelog, the triggers' included (on), or log
// again (off). It reports false if the driver is not go-sqlite3.
//
// It uses SQLite's authorizer, which decides what a statement does when it
// is compiled: SQLITE_IGNORE drops the insert and compiles the rest.
// Setting an authorizer expires every statement compiled on the connection
// before, so each compiles again when next run; off sets a permissive one
// first for that reason, then none. If that fails, the connection is
// discarded rather than returned to the pool.
func setUnlogged(conn *sqlx.Conn, on bool) (bool, error) {
	ok := false
	err := conn.Raw(func(dc any) error {
		c, isSQLite := dc.(*sqlite3.SQLiteConn)
		if !isSQLite {
			return nil
		}
		ok = true
		if on {
			c.RegisterAuthorizer(skipChangelogInserts)
			return nil
		}
		c.RegisterAuthorizer(allowAll)
		c.RegisterAuthorizer(nil)
		return nil
	})
	return ok, err
}

func skipChangelogInserts(op int, arg1, _, _ string) int {
	if op == sqlite3.SQLITE_INSERT && arg1 == "_sync_changelog" {
		return sqlite3.SQLITE_IGNORE
	}
	return sqlite3.SQLITE_OK
}

func allowAll(int, string, string, string) int { return sqlite3.SQLITE_OK }
