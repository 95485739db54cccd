package benchmarks_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/replicator/rules"

	"github.com/jmoiron/sqlx"
	"github.com/klauspost/compress/zstd"

	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/replicator"
)

// The sync benchmarks measure what reaches the wire and how fast changes
// travel from one device to another through a hub, each against a baseline
// measured in the same run. SYNC-FIGURES.md has the figures and the
// commands that reproduce them. Every database is a file in b.TempDir()
// (TMPDIR decides where), opened as the sidecar opens it: WAL, a 64 MiB
// page cache, SQLite's default synchronous (FULL) on devices and NORMAL on
// the hub. Each benchmark drops the framework's ns/op, which would mix
// setup, pauses and baselines, and reports its own metrics.

// ---------------------------------------------------------------------------
// 1. Delta against full copy.

const (
	deltaRows    = 250_000 // rows of the table synced once before the timed syncs
	deltaChanged = 12      // rows changed before each timed sync
)

// BenchmarkSyncDelta measures the bytes one sync puts on the wire after
// deltaChanged rows of a deltaRows-row table changed, against a full copy
// of the table compressed with zstd (klauspost, default level): the table
// as CSV (full-csv-B) and the app's database file holding only that table,
// vacuumed (full-db-B). delta-B is the frame pushed (Stats.BytesSent);
// wire-B is every byte of the sync's HTTP exchanges both ways (schema
// check, push, pull), headers included. x-full is delta-B over full-csv-B.
// The first sync, untimed by the framework, ships the table as a baseline:
// first-sync-s is how long it took, first-sync-x-full its frame bytes over
// full-csv-B.
// Target: delta-B under 2,048 and x-full under 0.001.
func BenchmarkSyncDelta(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	h := newInprocHub(b, filepath.Join(dir, "hub"))
	var wire wireCounter
	a := newSyncDevice(b, dir, "a", h.client(b, &wire), "notes", deltaRows)
	start := time.Now()
	first, err := a.sync.SyncOnce(ctx)
	firstTime := time.Since(start)
	syncMust(b, err, "first sync")
	if first.Pushed != deltaRows {
		b.Fatalf("first sync pushed %d changes, want %d", first.Pushed, deltaRows)
	}
	b.Logf("first sync: %d changes in %d frame bytes (%.1f B/row) in %s",
		first.Pushed, first.BytesSent, float64(first.BytesSent)/deltaRows, firstTime.Round(time.Millisecond))
	csvRaw, csvZ := notesCSV(b, a.app)
	fileRaw, fileZ := notesFile(b, dir, a.path)
	b.Logf("full copy: CSV %d bytes, zstd %d; database file %d bytes, zstd %d", csvRaw, csvZ, fileRaw, fileZ)

	var frames, wires, ms []float64
	for iter := 0; b.Loop(); iter++ {
		r := rand.New(rand.NewPCG(uint64(iter), 1))
		picks := r.Perm(deltaRows)[:deltaChanged]
		ops := make([]noteOp, len(picks))
		for j, i := range picks {
			// An edit: one field and the timestamp, as an app saves a note.
			ops[j] = noteOp{kind: change.Update, row: i, rev: iter + 1, cols: []int{1 + (iter*deltaChanged+j)%5, 6}}
		}
		syncMust(b, applyNoteOps(ctx, a.app, ops, r), "change %d rows", deltaChanged)
		w0, t0 := wire.total(), time.Now()
		st, err := a.sync.SyncOnce(ctx)
		ms = append(ms, float64(time.Since(t0))/1e6)
		syncMust(b, err, "delta sync")
		if st.Pushed != deltaChanged {
			b.Fatalf("delta sync pushed %d changes, want %d", st.Pushed, deltaChanged)
		}
		frames = append(frames, float64(st.BytesSent))
		wires = append(wires, float64(wire.total()-w0))
	}
	delta := median(frames)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(delta, "delta-B")
	b.ReportMetric(median(wires), "wire-B")
	b.ReportMetric(float64(csvZ), "full-csv-B")
	b.ReportMetric(float64(fileZ), "full-db-B")
	b.ReportMetric(delta/float64(csvZ), "x-full")
	b.ReportMetric(delta/float64(fileZ), "x-full-db")
	b.ReportMetric(float64(first.BytesSent)/float64(csvZ), "first-sync-x-full")
	b.ReportMetric(firstTime.Seconds(), "first-sync-s")
	b.ReportMetric(median(ms), "sync-ms")
}

// noteOp is one app write: an insert of row, an update of cols of row at
// revision rev, or a delete of row.
type noteOp struct {
	kind change.Op
	row  int
	rev  int
	cols []int // indexes into noteColumns, 1..6
}

// applyNoteOps writes ops through the app's pool in one transaction. Every
// update changes each of its columns to a value it did not have, so that
// each op is exactly one change.
func applyNoteOps(ctx context.Context, db *sqlx.DB, ops []noteOp, r *rand.Rand) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	for _, o := range ops {
		var res sql.Result
		switch o.kind {
		case change.Insert:
			res, err = tx.ExecContext(ctx, noteInsertSQL, noteRow(o.row)...)
		case change.Delete:
			res, err = tx.ExecContext(ctx, `DELETE FROM notes WHERE id = ?`, noteID(o.row))
		default:
			q, args := "UPDATE notes SET ", []any(nil)
			for k, c := range o.cols {
				if k > 0 {
					q += ", "
				}
				switch noteColumns[c] {
				case "priority":
					q += "priority = (priority + ?) % 6"
					args = append(args, int64(1+r.IntN(5)))
				case "done":
					q += "done = 1 - done"
				case "score":
					q += "score = round(score + ?, 2)"
					args = append(args, float64(1+r.IntN(999))/100)
				default:
					q += noteColumns[c] + " = ?"
					args = append(args, noteValue(o.row, c, o.rev))
				}
			}
			res, err = tx.ExecContext(ctx, q+" WHERE id = ?", append(args, noteID(o.row))...)
		}
		if err == nil {
			var n int64
			if n, err = res.RowsAffected(); err == nil && n != 1 {
				err = fmt.Errorf("changed %d rows, want 1", n)
			}
		}
		if err != nil {
			return fmt.Errorf("%s row %d: %w", o.kind, o.row, err)
		}
	}
	return tx.Commit()
}

// notesCSV returns the size of the notes table as CSV with a header line,
// and of that CSV compressed.
func notesCSV(tb testing.TB, db *sqlx.DB) (raw, compressed int) {
	tb.Helper()
	rows, err := db.Query(`SELECT id, title, body, priority, done, score, updated_at FROM notes ORDER BY rowid`)
	syncMust(tb, err, "dump notes")
	defer rows.Close()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(noteColumns) //nolint:errcheck // a bytes.Buffer does not fail; Flush reports it anyway
	for rows.Next() {
		var id, title, body, at string
		var priority, done int64
		var score float64
		syncMust(tb, rows.Scan(&id, &title, &body, &priority, &done, &score, &at), "dump notes")
		w.Write([]string{id, title, body, strconv.FormatInt(priority, 10), strconv.FormatInt(done, 10), //nolint:errcheck // as above
			strconv.FormatFloat(score, 'g', -1, 64), at})
	}
	syncMust(tb, rows.Err(), "dump notes")
	w.Flush()
	syncMust(tb, w.Error(), "dump notes")
	return buf.Len(), syncZstdLen(tb, buf.Bytes())
}

// notesFile copies the notes table of the database at src into a new
// database file of its own, without deltasync's tables, vacuums it, and
// returns its size and its compressed size.
func notesFile(tb testing.TB, dir, src string) (raw, compressed int) {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "full-copy.db")
	db := openNotesDB(tb, path, false)
	conn, err := db.Conn(ctx)
	syncMust(tb, err, "copy notes")
	for _, q := range []string{
		`ATTACH DATABASE '` + src + `' AS src`,
		`INSERT INTO notes SELECT id, title, body, priority, done, score, updated_at FROM src.notes ORDER BY rowid`,
		`DETACH DATABASE src`,
		`PRAGMA journal_mode = DELETE`,
		`VACUUM`,
	} {
		_, err := conn.ExecContext(ctx, q)
		syncMust(tb, err, "copy notes: %s", q)
	}
	conn.Close()
	db.Close()
	data, err := os.ReadFile(path)
	syncMust(tb, err, "read the copy")
	return len(data), syncZstdLen(tb, data)
}

// syncZstdLen is the length of data compressed by klauspost/compress zstd at
// its default level, as the codec compresses frames.
func syncZstdLen(tb testing.TB, data []byte) int {
	tb.Helper()
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	syncMust(tb, err, "zstd")
	defer zw.Close()
	return len(zw.EncodeAll(data, nil))
}

// ---------------------------------------------------------------------------
// 2. Bytes per changed row.

const (
	wireBase    = 20_000 // rows synced before the timed syncs: updates and deletes hit them
	wireChanges = 1_000  // changes per timed sync: 60% inserts, 30% updates, 10% deletes
)

// BenchmarkSyncWire measures the bytes per change of the frame a device
// pushes after wireChanges app writes (600 inserts of new rows, 300 updates
// of 1 or 2 columns of existing rows, 100 deletes, shuffled, one change per
// row), against the same changes as zstd-compressed JSON (one array of
// {"table","op","hlc","site","row"} objects, the whole row for inserts and
// updates, the key for deletes; json-B/change), and as JSON of the changed
// columns only (json-cols-B/change). The JSON is built from the very frame
// pushed, decoded, with the rows read back from the device. x-json is
// B/change over json-B/change. Target: x-json at most 0.8.
func BenchmarkSyncWire(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	h := newInprocHub(b, filepath.Join(dir, "hub"))
	rec := &recordingHub{Hub: h.client(b, nil)}
	a := newSyncDevice(b, dir, "a", rec, "notes", wireBase)
	_, err := a.sync.SyncOnce(ctx)
	syncMust(b, err, "first sync")
	dec, err := codec.NewDecoder(codec.DefaultLimits)
	syncMust(b, err, "decoder")
	defer dec.Close()
	live := make([]int, wireBase) // rows that exist
	for i := range live {
		live[i] = i
	}
	next := wireBase // the next new row
	var frame, full, cols []float64
	for iter := 0; b.Loop(); iter++ {
		r := rand.New(rand.NewPCG(uint64(iter), 2))
		var ops []noteOp
		ops, live, next = wireMix(r, iter, live, next)
		syncMust(b, applyNoteOps(ctx, a.app, ops, r), "write %d changes", len(ops))
		rec.frames = nil
		st, err := a.sync.SyncOnce(ctx)
		syncMust(b, err, "sync")
		if st.Pushed != wireChanges {
			b.Fatalf("iteration %d: pushed %d changes, want %d", iter, st.Pushed, wireChanges)
		}
		jFull, jCols := jsonOfFrames(b, dec, rec.frames, a.app)
		frame = append(frame, float64(st.BytesSent)/wireChanges)
		full = append(full, float64(jFull)/wireChanges)
		cols = append(cols, float64(jCols)/wireChanges)
	}
	ratio := make([]float64, len(frame))
	ratioCols := make([]float64, len(frame))
	for i := range frame {
		ratio[i], ratioCols[i] = frame[i]/full[i], frame[i]/cols[i]
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(frame), "B/change")
	b.ReportMetric(median(full), "json-B/change")
	b.ReportMetric(median(cols), "json-cols-B/change")
	b.ReportMetric(median(ratio), "x-json")
	b.ReportMetric(median(ratioCols), "x-json-cols")
}

// wireMix returns wireChanges shuffled ops on distinct rows: inserts of new
// rows, updates of 1 or 2 of the 6 non-key columns of live rows, deletes of
// live rows. It returns the rows live afterwards and the next new row.
func wireMix(r *rand.Rand, iter int, live []int, next int) ([]noteOp, []int, int) {
	const inserts, updates, deletes = wireChanges * 6 / 10, wireChanges * 3 / 10, wireChanges / 10
	// Move updates+deletes distinct live rows to the end (partial Fisher-Yates).
	for k := range updates + deletes {
		j := r.IntN(len(live) - k)
		live[j], live[len(live)-1-k] = live[len(live)-1-k], live[j]
	}
	picked := live[len(live)-updates-deletes:]
	var ops []noteOp
	for k, row := range picked {
		if k < updates {
			a := 1 + r.IntN(6)
			c := []int{a}
			if r.IntN(2) == 0 {
				o := 1 + r.IntN(5)
				if o >= a {
					o++
				}
				c = []int{min(a, o), max(a, o)}
			}
			ops = append(ops, noteOp{kind: change.Update, row: row, rev: iter + 1, cols: c})
		} else {
			ops = append(ops, noteOp{kind: change.Delete, row: row})
		}
	}
	updated := append([]int(nil), picked[:updates]...)
	live = append(live[:len(live)-updates-deletes], updated...)
	for range inserts {
		ops = append(ops, noteOp{kind: change.Insert, row: next})
		live = append(live, next)
		next++
	}
	r.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	return ops, live, next
}

type syncJSONChange struct {
	Table string         `json:"table"`
	Op    string         `json:"op"`
	HLC   uint64         `json:"hlc"`
	Site  string         `json:"site"`
	Row   map[string]any `json:"row"`
}

// jsonOfFrames returns the compressed sizes of the changes of frames as
// JSON: with whole rows (read from db), and with changed columns only.
func jsonOfFrames(tb testing.TB, dec *codec.Decoder, frames [][]byte, db *sqlx.DB) (full, cols int) {
	tb.Helper()
	var whole, changed []syncJSONChange
	for _, f := range frames {
		bt, err := dec.Decode(f)
		syncMust(tb, err, "decode the frame pushed")
		for _, c := range bt.Changes {
			// The clock of the write: the newest of the row's and its columns'.
			clock := c.Clock
			for _, cc := range c.Clocks {
				if cc.HLC > clock.HLC {
					clock = cc
				}
			}
			t := bt.Tables[c.Table]
			id := c.Key[0]
			jc := syncJSONChange{Table: t.Name, Op: c.Op.String(), HLC: uint64(clock.HLC), Site: hex.EncodeToString(bt.Sites[clock.Site][:])}
			part := map[string]any{"id": id}
			for k, ci := range c.Columns {
				part[t.Columns[ci]] = c.Values[k]
			}
			row := map[string]any{"id": id}
			if c.Op != change.Delete {
				vals := make([]any, len(noteColumns))
				ptrs := make([]any, len(vals))
				for k := range vals {
					ptrs[k] = &vals[k]
				}
				err := db.QueryRow(`SELECT id, title, body, priority, done, score, updated_at FROM notes WHERE id = ?`, id).Scan(ptrs...)
				syncMust(tb, err, "read row %v", id)
				for k, name := range noteColumns {
					row[name] = vals[k]
				}
			}
			jc.Row = row
			whole = append(whole, jc)
			jc.Row = part
			changed = append(changed, jc)
		}
	}
	return syncJSONZstdLen(tb, whole), syncJSONZstdLen(tb, changed)
}

func syncJSONZstdLen(tb testing.TB, v any) int {
	tb.Helper()
	data, err := json.Marshal(v)
	syncMust(tb, err, "json")
	return syncZstdLen(tb, data)
}

// ---------------------------------------------------------------------------
// 3. Replay.

const replayChanges = 100_000

// BenchmarkSyncReplay measures a device applying replayChanges pulled
// changes (inserts of new rows: Node.Merge of the frames a hub serves, in
// its batches of replicator.DefaultBatchSize, each with the pulled cursor),
// against inserting the same rows into plain SQLite without triggers with
// one prepared statement in one transaction. Both end with a WAL
// checkpoint, run in turns on fresh databases, and x-plain is the median
// of the paired ratios of rates (replay/plain). Target: at least 0.5.
func BenchmarkSyncReplay(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	store := hub.NewStore(filepath.Join(dir, "hub"))
	store.Logger = syncLogger
	b.Cleanup(func() { store.Close() })
	local := hub.Local{Store: store}
	a := newSyncDevice(b, dir, "a", local, "notes", 0)
	// A first sync takes the (empty) baseline: rows written after it are
	// logged by the triggers only.
	_, err := a.sync.SyncOnce(ctx)
	syncMust(b, err, "first sync")
	rows := noteRows(0, replayChanges)
	syncMust(b, insertNotes(ctx, a.app, rows, 1000), "write on a")
	st, err := a.sync.SyncOnce(ctx)
	syncMust(b, err, "push")
	if st.Pushed != replayChanges {
		b.Fatalf("pushed %d, want %d", st.Pushed, replayChanges)
	}
	frames := syncPullAll(b, local, "notes", replayChanges)

	var replay, plain, ratio []float64
	for iter := 0; b.Loop(); iter++ {
		sc := newSyncScope(b)
		idir := sc.dir()
		d := newSyncDevice(sc, idir, "r", nil, "notes", 0)
		p := openNotesDB(sc, filepath.Join(idir, "plain.db"), false)
		var tr, tp time.Duration
		for k := range 2 {
			start := time.Now()
			if (iter+k)%2 == 0 {
				for _, f := range frames {
					_, err := d.node.Merge(ctx, f, rules.RoleDevice)
					syncMust(b, err, "merge")
				}
				syncMust(b, checkpointNotes(ctx, d.node.DB), "checkpoint")
				tr = time.Since(start)
			} else {
				syncMust(b, insertNotes(ctx, p, rows, len(rows)), "plain insert")
				syncMust(b, checkpointNotes(ctx, p), "checkpoint")
				tp = time.Since(start)
			}
		}
		n, err := countNotes(ctx, d.app)
		if err != nil || n != replayChanges {
			b.Fatalf("replayed %d rows (%v), want %d", n, err, replayChanges)
		}
		sc.close()
		replay = append(replay, replayChanges/tr.Seconds())
		plain = append(plain, replayChanges/tp.Seconds())
		ratio = append(ratio, tp.Seconds()/tr.Seconds())
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(replay), "replay-changes/s")
	b.ReportMetric(median(plain), "plain-changes/s")
	b.ReportMetric(median(ratio), "x-plain")
}

// syncPullAll returns the frames a device pulling db from h from version 0
// gets, in h's batches; they must hold want changes.
func syncPullAll(tb testing.TB, h device.Hub, db string, want int) [][]byte {
	tb.Helper()
	dec, err := codec.NewDecoder(codec.DefaultLimits)
	syncMust(tb, err, "decoder")
	defer dec.Close()
	var frames [][]byte
	var since change.Version
	got := 0
	for {
		f, err := h.Pull(context.Background(), db, hub.PullRequest{Since: since, Limit: replicator.DefaultBatchSize, Site: change.SiteID{0xbe, 0x9c}})
		syncMust(tb, err, "pull")
		hd, err := dec.Header(f)
		syncMust(tb, err, "pull")
		if hd.Last <= since {
			break
		}
		frames, since, got = append(frames, f), hd.Last, got+int(hd.Changes)
	}
	if got != want {
		tb.Fatalf("pulled %d changes, want %d", got, want)
	}
	return frames
}

// syncScope collects the cleanups of one benchmark iteration's databases,
// so that they close, and their files go, at the end of the iteration
// rather than of the benchmark.
type syncScope struct {
	testing.TB
	fns []func()
}

func newSyncScope(tb testing.TB) *syncScope { return &syncScope{TB: tb} }

func (s *syncScope) Cleanup(f func()) { s.fns = append(s.fns, f) }

// dir returns a new directory that close removes.
func (s *syncScope) dir() string {
	d, err := os.MkdirTemp(s.TB.TempDir(), "iter")
	syncMust(s.TB, err, "temp dir")
	s.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func (s *syncScope) close() {
	for i := len(s.fns) - 1; i >= 0; i-- {
		s.fns[i]()
	}
	s.fns = nil
}

// ---------------------------------------------------------------------------
// 4. Propagation.

const (
	propRows = 1_000                  // rows on both devices before the timed writes
	propPoll = 200 * time.Microsecond // pause between two reads of the receiving database
)

// BenchmarkSyncPropagation measures the latency of one row written on
// device A, by the app's own connection pool, until a read on device B's
// database sees it, through a hub on loopback: an httptest server in this
// process (hub=inproc) or a `deltasync hub` process (hub=process). Both
// devices run Syncer.Run with its defaults (data_version checked every 5 ms,
// every 1 ms within a second of a change; 25 s long-polls), as `deltasync
// sync` does. Iterations follow each other within a second, so writes meet
// the 1 ms watch; a write after a quiet second meets the 5 ms one. Each
// iteration waits 0-5 ms first, so that writes fall anywhere in the watch's
// period. The floor is the
// same write and poll on a plain database (a write pool and a read pool on
// one file), timed in turns; x-floor is p50-ms over floor-p50-ms. poll-us
// is the mean time between two reads of B. Target: p50-ms under 10.
func BenchmarkSyncPropagation(b *testing.B) {
	for _, kind := range hubKinds {
		b.Run("hub="+kind, func(b *testing.B) { benchPropagation(b, kind) })
	}
}

func benchPropagation(b *testing.B, kind string) {
	ctx := context.Background()
	dir := b.TempDir()
	h := newBenchHub(b, kind, filepath.Join(dir, "hub"), 0)
	a := newSyncDevice(b, dir, "a", h.client(b, nil), "notes", propRows)
	d := newSyncDevice(b, dir, "b", h.client(b, nil), "notes", 0)
	for _, dev := range []*syncDevice{a, d} {
		_, err := dev.sync.SyncOnce(ctx)
		syncMust(b, err, "first sync")
	}
	b.Cleanup(a.run(ctx))
	b.Cleanup(d.run(ctx))
	floorW := openNotesDB(b, filepath.Join(dir, "floor.db"), false)
	syncMust(b, insertNotes(ctx, floorW, noteRows(0, propRows), propRows), "floor rows")
	floorR := sqlx.MustOpen("sqlite3", "file:"+filepath.Join(dir, "floor.db")+"?mode=ro&_cache_size=-65536")
	b.Cleanup(func() { floorR.Close() })

	const update = `UPDATE notes SET title = ?, updated_at = ? WHERE id = ?`
	const read = `SELECT title FROM notes WHERE id = ?`
	prep := func(db *sqlx.DB, q string) *sql.Stmt {
		s, err := db.Prepare(q)
		syncMust(b, err, "prepare")
		b.Cleanup(func() { s.Close() })
		return s
	}
	syncW, syncR := prep(a.app, update), prep(d.app, read)
	plainW, plainR := prep(floorW, update), prep(floorR, read)
	var polls int
	var polled time.Duration
	measure := func(w, r *sql.Stmt, iter int) time.Duration {
		i := (iter%propRows + propRows) % propRows
		title := fmt.Sprintf("edit %d", iter)
		start := time.Now()
		res, err := w.ExecContext(ctx, title, noteValue(i, 6, iter+propRows), noteID(i))
		if err == nil {
			var n int64
			if n, err = res.RowsAffected(); err == nil && n != 1 {
				err = fmt.Errorf("changed %d rows, want 1", n)
			}
		}
		syncMust(b, err, "write")
		n := syncWait(b, 10*time.Second, propPoll, "propagation", func() (bool, error) {
			var got string
			err := r.QueryRowContext(ctx, noteID(i)).Scan(&got)
			return got == title, err
		})
		lat := time.Since(start)
		if w == syncW {
			polls, polled = polls+n, polled+lat
		}
		return lat
	}
	for iter := range 5 { // warm up: connections, statement caches, the loops' first syncs
		measure(syncW, syncR, -1-iter)
	}
	polls, polled = 0, 0
	r := rand.New(rand.NewPCG(4, 4))
	var lat, floor []float64
	for iter := 0; b.Loop(); iter++ {
		for k := range 2 {
			time.Sleep(time.Duration(r.IntN(5000)) * time.Microsecond)
			if (iter+k)%2 == 0 {
				lat = append(lat, float64(measure(syncW, syncR, iter))/1e6)
			} else {
				floor = append(floor, float64(measure(plainW, plainR, iter))/1e6)
			}
		}
	}
	p50, fp50 := syncPercentile(lat, 50), syncPercentile(floor, 50)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(syncPercentile(lat, 90), "p90-ms")
	b.ReportMetric(syncPercentile(lat, 99), "p99-ms")
	b.ReportMetric(fp50, "floor-p50-ms")
	b.ReportMetric(syncPercentile(floor, 99), "floor-p99-ms")
	b.ReportMetric(p50/fp50, "x-floor")
	b.ReportMetric(float64(polled.Microseconds())/float64(polls), "poll-us")
}

// ---------------------------------------------------------------------------
// 5. Throughput.

const throughputChanges = 100_000

// BenchmarkSyncThroughput measures throughputChanges rows inserted on
// device A by the app until all of them are on device B, both running
// Syncer.Run, through a hub on loopback (hub=inproc or hub=process, as
// above). The app writes them in one transaction (write=bulk) or in
// transactions of 100 rows, back to back (write=tx100). Each iteration has
// fresh devices and a new database name on the hub. The baseline is the
// replay benchmark's: the same rows inserted into plain SQLite with one
// prepared statement in one transaction, plus a checkpoint, timed in turns;
// x-plain is the median of the paired ratios of rates (end to end/plain).
// Target: changes/s at least 20,000.
func BenchmarkSyncThroughput(b *testing.B) {
	for _, kind := range hubKinds {
		for _, w := range []struct {
			name string
			tx   int
		}{{"bulk", throughputChanges}, {"tx100", 100}} {
			b.Run(fmt.Sprintf("hub=%s/write=%s", kind, w.name), func(b *testing.B) { benchThroughput(b, kind, w.tx) })
		}
	}
}

func benchThroughput(b *testing.B, kind string, txRows int) {
	ctx := context.Background()
	h := newBenchHub(b, kind, filepath.Join(b.TempDir(), "hub"), 0)
	rows := noteRows(0, throughputChanges)
	last := noteID(throughputChanges - 1)
	var e2e, plain, ratio []float64
	for iter := 0; b.Loop(); iter++ {
		sc := newSyncScope(b)
		idir := sc.dir()
		name := fmt.Sprintf("notes%d", iter)
		a := newSyncDevice(sc, idir, "a", h.client(sc, nil), name, 0)
		d := newSyncDevice(sc, idir, "b", h.client(sc, nil), name, 0)
		for _, dev := range []*syncDevice{a, d} {
			_, err := dev.sync.SyncOnce(ctx)
			syncMust(b, err, "first sync")
		}
		p := openNotesDB(sc, filepath.Join(idir, "plain.db"), false)
		var te, tp time.Duration
		timePlain := func() {
			start := time.Now()
			syncMust(b, insertNotes(ctx, p, rows, len(rows)), "plain insert")
			syncMust(b, checkpointNotes(ctx, p), "checkpoint")
			tp = time.Since(start)
		}
		if iter%2 == 0 {
			timePlain()
		}
		stopA, stopD := a.run(ctx), d.run(ctx)
		time.Sleep(100 * time.Millisecond) // the loops' first syncs
		start := time.Now()
		syncMust(b, insertNotes(ctx, a.app, rows, txRows), "write on a")
		syncWait(b, 5*time.Minute, time.Millisecond, "the last row on b", func() (bool, error) {
			var n int
			err := d.app.GetContext(ctx, &n, `SELECT count(*) FROM notes WHERE id = ?`, last)
			return n == 1, err
		})
		te = time.Since(start)
		stopA()
		stopD()
		if n, err := countNotes(ctx, d.app); err != nil || n != throughputChanges {
			b.Fatalf("b has %d rows (%v), want %d", n, err, throughputChanges)
		}
		if iter%2 == 1 {
			timePlain()
		}
		sc.close()
		e2e = append(e2e, throughputChanges/te.Seconds())
		plain = append(plain, throughputChanges/tp.Seconds())
		ratio = append(ratio, tp.Seconds()/te.Seconds())
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(e2e), "changes/s")
	b.ReportMetric(median(plain), "plain-changes/s")
	b.ReportMetric(median(ratio), "x-plain")
}

// ---------------------------------------------------------------------------
// 6. Hub.

const (
	hubDevices = 100 // device databases, each pushing from its own goroutine
	hubPushes  = 20  // pushes per device per iteration
	hubBatch   = 10  // changes per push
)

// BenchmarkSyncHub measures one hub merging the pushes of hubDevices
// devices at once: each device's goroutine, with its own HTTP connection,
// pushes hubPushes frames of hubBatch inserts each, one after the other.
// The frames are real: built by Node.Outgoing on hubDevices device
// databases, untimed, so that the timed part is the hub's work and the
// devices' HTTP clients, not the devices' SQLite. Each iteration pushes
// into a new database name on the same hub. changes/s is the changes
// merged over the wall time of all pushes; push-p50-ms and push-p99-ms are
// over every push of every iteration, as a device sees them. The baseline
// is the same rows inserted into one plain SQLite database opened as the
// hub opens its replicas (WAL, synchronous=NORMAL), in transactions of
// hubBatch rows, from one goroutine, timed in turns; x-plain is the median
// of the paired ratios of rates (hub/plain).
func BenchmarkSyncHub(b *testing.B) {
	frames, doc := hubFrames(b)
	for _, kind := range hubKinds {
		b.Run("hub="+kind, func(b *testing.B) { benchHubMerge(b, kind, frames, doc) })
	}
}

// hubFrames builds the frames of every device: device k inserts its rows
// hubBatch per transaction, and Node.Outgoing, with BatchSize hubBatch,
// turns its changelog into hubPushes frames.
func hubFrames(b *testing.B) ([][][]byte, *replicator.SchemaDoc) {
	ctx := context.Background()
	frames := make([][][]byte, hubDevices)
	var doc *replicator.SchemaDoc
	for k := range hubDevices {
		sc := newSyncScope(b)
		d := newSyncDevice(sc, sc.dir(), "d", nil, "notes", 0)
		lo := k * hubPushes * hubBatch
		syncMust(b, insertNotes(ctx, d.app, noteRows(lo, lo+hubPushes*hubBatch), hubBatch), "write on device %d", k)
		d.node.BatchSize = hubBatch
		var since change.Version
		for {
			f, through, n, err := d.node.Outgoing(ctx, since)
			syncMust(b, err, "outgoing")
			if through == since {
				break
			}
			if n != hubBatch {
				b.Fatalf("frame of %d changes, want %d", n, hubBatch)
			}
			frames[k], since = append(frames[k], f), through
		}
		if len(frames[k]) != hubPushes {
			b.Fatalf("%d frames, want %d", len(frames[k]), hubPushes)
		}
		if doc == nil {
			var err error
			doc, err = d.node.SchemaDoc(ctx)
			syncMust(b, err, "schema")
		}
		sc.close()
	}
	return frames, doc
}

func benchHubMerge(b *testing.B, kind string, frames [][][]byte, doc *replicator.SchemaDoc) {
	ctx := context.Background()
	// hubDevices devices, each of which would push with a token of its own.
	h := newBenchHub(b, kind, filepath.Join(b.TempDir(), "hub"), hubDevices)
	clients := make([]*hub.Client, hubDevices)
	for k := range clients {
		clients[k] = h.client(b, nil)
	}
	const total = hubDevices * hubPushes * hubBatch
	rows := noteRows(0, total)
	dec, err := codec.NewDecoder(codec.DefaultLimits)
	syncMust(b, err, "decoder")
	defer dec.Close()
	var merged, plain, ratio, lats []float64
	for iter := 0; b.Loop(); iter++ {
		name := fmt.Sprintf("notes%d", iter)
		syncMust(b, clients[0].PutSchema(ctx, name, doc), "create %s", name)
		var th, tp time.Duration
		for k := range 2 {
			if (iter+k)%2 == 1 {
				sc := newSyncScope(b)
				p := openNotesDB(sc, filepath.Join(sc.dir(), "plain.db"), true)
				start := time.Now()
				syncMust(b, insertNotes(ctx, p, rows, hubBatch), "plain insert")
				tp = time.Since(start)
				sc.close()
				continue
			}
			pushLats := make([][]float64, hubDevices)
			errs := make([]error, hubDevices)
			var wg sync.WaitGroup
			ready := make(chan struct{})
			for dev := range hubDevices {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-ready
					for _, f := range frames[dev] {
						t0 := time.Now()
						if _, err := clients[dev].Push(ctx, name, f); err != nil {
							errs[dev] = err
							return
						}
						pushLats[dev] = append(pushLats[dev], float64(time.Since(t0))/1e6)
					}
				}()
			}
			start := time.Now()
			close(ready)
			wg.Wait()
			th = time.Since(start)
			for dev, err := range errs {
				syncMust(b, err, "push from device %d", dev)
				lats = append(lats, pushLats[dev]...)
			}
		}
		// Every change is on the hub: pulls from version 0 serve them all,
		// in batches of at most the hub's pull cap.
		if served := countServed(b, ctx, clients[0], dec, name); served != total {
			b.Fatalf("the hub serves %d changes, want %d", served, total)
		}
		merged = append(merged, total/th.Seconds())
		plain = append(plain, total/tp.Seconds())
		ratio = append(ratio, tp.Seconds()/th.Seconds())
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(merged), "changes/s")
	b.ReportMetric(median(plain), "plain-changes/s")
	b.ReportMetric(median(ratio), "x-plain")
	b.ReportMetric(syncPercentile(lats, 50), "push-p50-ms")
	b.ReportMetric(syncPercentile(lats, 99), "push-p99-ms")
}

// TestSyncBenchmarkSetup checks, quickly, what the sync benchmarks rest
// on: rows are the same on every call, keys are distinct, and two devices
// made by newSyncDevice converge through an in-process hub.
func TestSyncBenchmarkSetup(t *testing.T) {
	ctx := context.Background()
	if fmt.Sprint(noteRow(42)) != fmt.Sprint(noteRow(42)) {
		t.Fatal("noteRow is not deterministic")
	}
	seen := map[string]bool{}
	for i := range 1000 {
		seen[noteID(i)] = true
	}
	if len(seen) != 1000 {
		t.Fatalf("%d distinct keys of 1000", len(seen))
	}
	dir := t.TempDir()
	h := newInprocHub(t, filepath.Join(dir, "hub"))
	var wire wireCounter
	a := newSyncDevice(t, dir, "a", h.client(t, &wire), "notes", 10)
	d := newSyncDevice(t, dir, "b", h.client(t, nil), "notes", 0)
	r := rand.New(rand.NewPCG(1, 1))
	ops := []noteOp{{kind: change.Update, row: 1, rev: 1, cols: []int{3, 4}}, {kind: change.Delete, row: 2}, {kind: change.Insert, row: 10}}
	syncMust(t, applyNoteOps(ctx, a.app, ops, r), "write")
	for _, dev := range []*syncDevice{a, d} {
		_, err := dev.sync.SyncOnce(ctx)
		syncMust(t, err, "sync")
	}
	if n, err := countNotes(ctx, d.app); err != nil || n != 10 {
		t.Fatalf("b has %d rows (%v), want 10", n, err)
	}
	if wire.sent.Load() == 0 || wire.received.Load() == 0 {
		t.Error("the wire counter counted nothing")
	}
}

// countServed pulls a database from version 0 until a pull serves nothing new,
// and returns the number of changes served.
func countServed(b *testing.B, ctx context.Context, h *hub.Client, dec *codec.Decoder, name string) int {
	var since change.Version
	served := 0
	for {
		f, err := h.Pull(ctx, name, hub.PullRequest{Since: since})
		syncMust(b, err, "pull")
		hd, err := dec.Header(f)
		syncMust(b, err, "pulled frame")
		if hd.Changes == 0 || hd.Last <= since {
			return served
		}
		served += int(hd.Changes)
		since = hd.Last
	}
}
