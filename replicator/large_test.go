package replicator_test

import (
	"context"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/dbtest"
)

const mib = 1 << 20

// heapPeak samples the Go heap while fn runs and returns the most it grew
// above where it started, and the bytes fn allocated, in MiB.
func heapPeak(fn func()) (peak, allocated float64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var top atomic.Uint64
	done := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > top.Load() {
				top.Store(m.HeapAlloc)
			}
		}
	}()
	fn()
	close(done)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return float64(int64(max(top.Load(), after.HeapAlloc))-int64(before.HeapAlloc)) / mib,
		float64(after.TotalAlloc-before.TotalAlloc) / mib
}

// TestLargeRowMemory logs how much Go memory a 48 MiB row costs to push
// and to pull through a hub over HTTP (device and hub share this process):
// what a device or hub needs beyond the row itself. It asserts only that
// the row arrives; the numbers are for the record.
func TestLargeRowMemory(t *testing.T) {
	srv := httptest.NewServer(hub.NewServer(newStore(t)).Handler())
	t.Cleanup(srv.Close)
	h := hub.NewClient(srv.URL, "")
	a := newDevice(t, h, `CREATE TABLE files (id INTEGER PRIMARY KEY, data BLOB);`)
	b := newDevice(t, h, `CREATE TABLE files (id INTEGER PRIMARY KEY, data BLOB);`)
	a.sync(t)
	b.sync(t)
	dbtest.Shell(t, a.path, `INSERT INTO files VALUES (1, randomblob(48*1024*1024));`)
	peak, alloc := heapPeak(func() { a.sync(t) })
	t.Logf("push of a 48 MiB row (device and hub): heap peak +%.0f MiB, allocated %.0f MiB", peak, alloc)
	peak, alloc = heapPeak(func() { b.sync(t) })
	t.Logf("pull of a 48 MiB row (hub and device): heap peak +%.0f MiB, allocated %.0f MiB", peak, alloc)
	assertSame(t, a, b)
	var n int
	if err := b.db.GetContext(context.Background(), &n, `SELECT length(data) FROM files WHERE id = 1`); err != nil || n != 48*mib {
		t.Errorf("device b holds a row of %d bytes (%v), want %d", n, err, 48*mib)
	}
}
