package benchmarks_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/sqlitefile"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// The sync benchmarks' table: a UUID-like TEXT key, a title, a body of
// prose, two integers, a real and a timestamp as text, as a notes or tasks
// app has. Unlike itemsDDL it has no BLOB: 64 random bytes per row would be
// most of every compressed size.
const noteDDL = `CREATE TABLE notes (
	id         TEXT PRIMARY KEY,
	title      TEXT NOT NULL,
	body       TEXT NOT NULL,
	priority   INTEGER NOT NULL,
	done       INTEGER NOT NULL,
	score      REAL,
	updated_at TEXT NOT NULL
)`

// noteColumns are the table's columns in order; noteInsertSQL writes them all.
var noteColumns = []string{"id", "title", "body", "priority", "done", "score", "updated_at"}

const noteInsertSQL = `INSERT INTO notes (id, title, body, priority, done, score, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`

// noteCache is the page cache of every sync benchmark connection, as the
// sidecar and the Go API open theirs (64 MiB).
const noteCache = 64 << 10

// noteWords is a vocabulary of 2,000 made-up words; text draws from it with
// a skew like natural language's, so that it compresses as prose does
// (about 3x with zstd), not as random bytes nor as one repeated sentence.
var noteWords = func() []string {
	r := rand.New(rand.NewPCG(7, 7))
	syl := []string{"ka", "lo", "mi", "ter", "san", "do", "ri", "ven", "pa", "tu", "shi", "mor", "el", "an", "qu", "ix"}
	words := make([]string, 2000)
	for i := range words {
		var w strings.Builder
		for range 1 + r.IntN(3) {
			w.WriteString(syl[r.IntN(len(syl))])
		}
		words[i] = w.String()
	}
	return words
}()

// noteRand is the source of row i's values at revision rev (0: as
// inserted). The seeds are scrambled: PCG streams from nearby seeds start
// alike, which made neighbouring rows share words and a revision repeat the
// value it replaced.
func noteRand(i, rev int) *rand.Rand {
	return rand.New(rand.NewPCG(noteMix(uint64(i)), noteMix(uint64(rev)^0x5bd1e995)))
}

func noteText(r *rand.Rand, n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = noteWords[int(float64(len(noteWords))*math.Pow(r.Float64(), 3))]
	}
	return strings.Join(ws, " ")
}

// noteMix is splitmix64's finalizer: a bijection that scatters bits.
func noteMix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// noteID is row i's key: a random-looking UUID (122 random bits, as a v4
// UUID has), the same on every run.
func noteID(i int) string {
	var b [16]byte
	a, c := noteMix(uint64(i)), noteMix(^uint64(i)) // a alone is unique per i
	for k := range 8 {
		b[k], b[8+k] = byte(a>>(56-8*k)), byte(c>>(56-8*k))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// noteTime is row i's updated_at at revision rev: ISO 8601 with milliseconds.
func noteTime(i, rev int, r *rand.Rand) string {
	t := time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC).
		Add(time.Duration(i)*37*time.Second + time.Duration(rev)*time.Hour + time.Duration(r.IntN(1000))*time.Millisecond)
	return t.Format("2006-01-02T15:04:05.000Z")
}

// noteRow returns row i as inserted, in noteColumns order: about 250 bytes
// of values, 190 of them the body.
func noteRow(i int) []any {
	r := noteRand(i, 0)
	return []any{
		noteID(i),
		noteText(r, 2+r.IntN(5)),
		noteText(r, 10+r.IntN(50)),
		int64(r.IntN(6)),
		int64(r.IntN(2)),
		math.Round(r.Float64()*10000) / 100,
		noteTime(i, 0, r),
	}
}

// noteRows returns rows lo..hi-1.
func noteRows(lo, hi int) [][]any {
	rows := make([][]any, hi-lo)
	for i := range rows {
		rows[i] = noteRow(lo + i)
	}
	return rows
}

// noteValue returns a new value of column c (1..6, an index into
// noteColumns) of row i at revision rev > 0.
func noteValue(i, c, rev int) any {
	r := noteRand(i, rev)
	switch noteColumns[c] {
	case "title":
		return noteText(r, 2+r.IntN(5))
	case "body":
		return noteText(r, 10+r.IntN(50))
	case "priority":
		return int64(r.IntN(6))
	case "done":
		return int64(r.IntN(2))
	case "score":
		return math.Round(r.Float64()*10000) / 100
	default:
		return noteTime(i, rev, r)
	}
}

// openNotesDB creates a database file holding the notes table and opens
// it as an app would: its own pool, WAL, a 64 MiB cache, SQLite's default
// synchronous (FULL), as sqlitefile.DSN writes it. synchronous=NORMAL is
// what the hub uses. The pool closes when tb ends.
func openNotesDB(tb testing.TB, path string, normal bool) *sqlx.DB {
	tb.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	dsn := sqlitefile.DSN(path, sqlitefile.Options{CacheKiB: noteCache}) + "&_journal_mode=WAL"
	if normal {
		dsn += "&_synchronous=NORMAL"
	}
	db, err := sqlx.Open("sqlite3", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Exec(noteDDL); err != nil {
		tb.Fatal(err)
	}
	return db
}

// insertNotes inserts rows with one prepared statement, txRows rows per
// transaction.
func insertNotes(ctx context.Context, db *sqlx.DB, rows [][]any, txRows int) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	stmt, err := conn.PrepareContext(ctx, noteInsertSQL)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for lo := 0; lo < len(rows); lo += txRows {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		txStmt := tx.StmtContext(ctx, stmt)
		for _, r := range rows[lo:min(lo+txRows, len(rows))] {
			if _, err := txStmt.ExecContext(ctx, r...); err != nil {
				tx.Rollback() //nolint:errcheck // the insert's error is the one to report
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// checkpointNotes writes the WAL back into the database file, so that a
// timed batch pays for the pages it wrote (see target.timed).
func checkpointNotes(ctx context.Context, db *sqlx.DB) error {
	var busy, logged, done int
	return db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logged, &done)
}

func countNotes(ctx context.Context, db *sqlx.DB) (int, error) {
	var n int
	err := db.GetContext(ctx, &n, `SELECT count(*) FROM notes`)
	return n, err
}

// syncDevice is an app's database with deltasync: the app's own pool, and
// the node and syncer of the sidecar, on their own pool opened as `deltasync
// sync` opens it.
type syncDevice struct {
	path string
	app  *sqlx.DB
	node *replicator.Node
	sync *device.Syncer
}

// syncLogger is the logger of every benchmark hub and node.
var syncLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// newSyncDevice creates dir/name.db with the notes table, inserts rows
// 0..rows-1 before deltasync is installed (the first sync ships them as a
// baseline), installs deltasync and opens its node, syncing as dbName with
// h. Everything closes when tb ends.
func newSyncDevice(tb testing.TB, dir, name string, h device.Hub, dbName string, rows int) *syncDevice {
	tb.Helper()
	ctx := context.Background()
	d := &syncDevice{path: filepath.Join(dir, name+".db")}
	d.app = openNotesDB(tb, d.path, false)
	if rows > 0 {
		if err := insertNotes(ctx, d.app, noteRows(0, rows), rows); err != nil {
			tb.Fatal(err)
		}
	}
	db, err := sqlitefile.Open(ctx, d.path, sqlitefile.Options{CacheKiB: noteCache, WAL: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := triggers.Install(ctx, db, schema.Filter{}); err != nil {
		tb.Fatal(err)
	}
	d.node = replicator.NewNode(db)
	d.node.Logger = syncLogger
	if err := d.node.Open(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.node.Close() })
	d.sync = &device.Syncer{Node: d.node, Hub: h, Name: dbName}
	return d
}

// run starts the device's sidecar loop (Syncer.Run, default options:
// data_version checked every 5 ms, every 1 ms within a second of a change,
// and 25 s long-polls) and returns the function that stops it and waits
// for it to end.
func (d *syncDevice) run(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.sync.Run(ctx, device.RunOptions{}) //nolint:errcheck // nil when ctx ends
	}()
	return func() { cancel(); <-done }
}

// wireCounter counts the bytes a hub client's TCP connections send and
// receive: HTTP headers and bodies, as they cross loopback.
type wireCounter struct{ sent, received atomic.Int64 }

func (w *wireCounter) total() int64 { return w.sent.Load() + w.received.Load() }

type countingConn struct {
	net.Conn
	w *wireCounter
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.received.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.w.sent.Add(int64(n))
	return n, err
}

// benchHub is a hub on loopback: an httptest server in this process, or a
// `deltasync hub` process.
type benchHub struct {
	url   string
	store *hub.Store // nil for a hub process
	pid   int        // the hub process, 0 in process
}

// client returns a hub client with a connection pool of its own, as each
// device (each sidecar process) has. Devices sharing http.DefaultTransport
// in one process would contend for its 2 idle connections per host and
// open new ones all the time. w, if not nil, counts its bytes.
func (h *benchHub) client(tb testing.TB, w *wireCounter) *hub.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 4
	if w != nil {
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{c, w}, nil
		}
	}
	tb.Cleanup(t.CloseIdleConnections)
	c := hub.NewClient(h.url, "")
	c.HTTP = &http.Client{Transport: t}
	return c
}

// newInprocHub serves a hub store in dir with hub.NewServer(store).Handler()
// on an httptest server in this process.
func newInprocHub(tb testing.TB, dir string) *benchHub {
	return newInprocHubPushes(tb, dir, 0)
}

// newInprocHubPushes is newInprocHub allowing maxPushes pushes at once
// from one client address (0: hub.DefaultMaxPushesPerToken).
func newInprocHubPushes(tb testing.TB, dir string, maxPushes int) *benchHub {
	tb.Helper()
	store := hub.NewStore(dir)
	store.Logger = syncLogger
	tb.Cleanup(func() { store.Close() })
	srv := hub.NewServer(store)
	srv.Logger, srv.MaxPushesPerToken = syncLogger, maxPushes
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(ts.Close)
	return &benchHub{url: ts.URL, store: store}
}

// deltasyncBinary builds the deltasync command into a temporary directory.
func deltasyncBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "deltasync")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/deltasync/deltasync/cmd/deltasync").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build ./cmd/deltasync: %v\n%s", err, out)
	}
	return bin
}

// newProcessHub starts `deltasync hub --listen 127.0.0.1:0 --data dir`
// with flags, built with go build, and stops it (SIGINT) when tb ends.
func newProcessHub(tb testing.TB, dir string, flags ...string) *benchHub {
	tb.Helper()
	bin := deltasyncBinary(tb)
	logf, err := os.Create(filepath.Join(tb.TempDir(), "hub.log"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { logf.Close() })
	cmd := exec.Command(bin, append([]string{"hub", "--listen", "127.0.0.1:0", "--data", dir}, flags...)...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt) //nolint:errcheck // Wait reports how it ended
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }() //nolint:errcheck // stopping
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() //nolint:errcheck // it would not stop
			<-done
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	_, url, ok := strings.Cut(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		tb.Fatalf("deltasync hub did not print its address: %q, %v", line, err)
	}
	go io.Copy(io.Discard, out) //nolint:errcheck // nothing more is expected on stdout
	return &benchHub{url: url, pid: cmd.Process.Pid}
}

// newBenchHub returns a hub of the given kind, "inproc" or "process",
// allowing maxPushes pushes at once from one client address (0: the
// default): the benchmarks' devices share 127.0.0.1 and no token.
func newBenchHub(tb testing.TB, kind, dir string, maxPushes int) *benchHub {
	if kind == "process" {
		if maxPushes > 0 {
			return newProcessHub(tb, dir, "--max-pushes-per-token", strconv.Itoa(maxPushes))
		}
		return newProcessHub(tb, dir)
	}
	return newInprocHubPushes(tb, dir, maxPushes)
}

// hubKinds are the hubs the end-to-end benchmarks run against.
var hubKinds = []string{"inproc", "process"}

// recordingHub keeps the frames a device pushes.
type recordingHub struct {
	device.Hub
	frames [][]byte
}

func (r *recordingHub) Push(ctx context.Context, db string, frame []byte) (hub.PushResult, error) {
	r.frames = append(r.frames, slices.Clone(frame))
	return r.Hub.Push(ctx, db, frame)
}

// syncPercentile returns the p-th percentile (0..100, nearest rank) of v, which it sorts.
func syncPercentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	i := int(math.Ceil(p/100*float64(len(v)))) - 1
	return v[max(0, min(i, len(v)-1))]
}

// syncWait polls cond every poll until it is true, failing tb after timeout.
// It returns how many times it polled.
func syncWait(tb testing.TB, timeout, poll time.Duration, what string, cond func() (bool, error)) int {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for n := 1; ; n++ {
		ok, err := cond()
		if err != nil && err != sql.ErrNoRows {
			tb.Fatalf("%s: %v", what, err)
		}
		if ok {
			return n
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not after %s", what, timeout)
		}
		time.Sleep(poll)
	}
}

// syncMust fails tb if err is not nil.
func syncMust(tb testing.TB, err error, format string, args ...any) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}
