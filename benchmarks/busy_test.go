package benchmarks_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/hub"
)

// busyPullChanges is the size of the pull an app writes through.
const busyPullChanges = 200_000

// BenchmarkBusyApp measures what an app sees while its device merges a
// large pull (issue 11, item 4): a device pulls 200,000 rows from its hub
// while the app, on its own connection as the sqlite3 shell or a Python
// app has one, inserts a row at a time, 1 ms apart. With busy timeout 0 a
// write that meets the merge's write lock fails at once ("database is
// locked"); with 100 ms it waits up to that long. It reports the app's
// writes/s, the share that failed, and how long a write took (p50, p99),
// failures included; merge-s is how long the pull took.
func BenchmarkBusyApp(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	store := hub.NewStore(filepath.Join(dir, "hub"))
	store.Logger = syncLogger
	b.Cleanup(func() { store.Close() })
	local := hub.Local{Store: store}
	a := newSyncDevice(b, dir, "a", local, "notes", 0)
	_, err := a.sync.SyncOnce(ctx)
	syncMust(b, err, "first sync")
	syncMust(b, insertNotes(ctx, a.app, noteRows(0, busyPullChanges), 10_000), "write on a")
	_, err = a.sync.SyncOnce(ctx)
	syncMust(b, err, "push")
	for _, busy := range []time.Duration{0, 100 * time.Millisecond} {
		b.Run(fmt.Sprintf("busy-timeout=%s", busy), func(b *testing.B) { benchBusyApp(b, local, busy) })
	}
}

func benchBusyApp(b *testing.B, h hub.Local, busy time.Duration) {
	ctx := context.Background()
	var waits []float64
	var writes, failed int
	var merge, span time.Duration
	for iter := 0; b.Loop(); iter++ {
		sc := newSyncScope(b)
		d := newSyncDevice(sc, sc.dir(), "b", h, "notes", 0)
		app, err := sqlx.Open("sqlite3", fmt.Sprintf("file:%s?_busy_timeout=%d", d.path, busy.Milliseconds()))
		syncMust(b, err, "open the app's connection")
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, f, ws, s := appWrites(ctx, app, stop, iter)
			writes, failed, waits, span = writes+w, failed+f, append(waits, ws...), span+s
		}()
		start := time.Now()
		_, err = d.sync.SyncOnce(ctx)
		merge += time.Since(start)
		close(stop)
		wg.Wait()
		app.Close()
		syncMust(b, err, "pull")
		sc.close()
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(writes)/span.Seconds(), "app-writes/s")
	b.ReportMetric(100*float64(failed)/float64(max(writes, 1)), "failed-%")
	b.ReportMetric(syncPercentile(waits, 50), "wait-p50-ms")
	b.ReportMetric(syncPercentile(waits, 99), "wait-p99-ms")
	b.ReportMetric(merge.Seconds()/float64(b.N), "merge-s")
}

// appWrites inserts a row at a time until stop closes, and returns how
// many it tried, how many failed, how long each took (ms) and for how long
// it wrote.
func appWrites(ctx context.Context, app *sqlx.DB, stop <-chan struct{}, iter int) (writes, failed int, waits []float64, span time.Duration) {
	begin := time.Now()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return writes, failed, waits, time.Since(begin)
		case <-time.After(time.Millisecond):
		}
		start := time.Now()
		_, err := app.ExecContext(ctx, `INSERT INTO notes VALUES (?, 'app', 'app', 0, 0, NULL, '2026-12-05')`, fmt.Sprintf("app-%d-%d", iter, i))
		waits = append(waits, float64(time.Since(start).Microseconds())/1000)
		writes++
		if err != nil {
			if !strings.Contains(err.Error(), "locked") && !strings.Contains(err.Error(), "busy") {
				panic(err)
			}
			failed++
		}
	}
}
