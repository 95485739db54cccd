package replicator_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
)

// stuckPull is a hub whose long-poll outlives its context until the test
// lets it go: a pull still reading a response when the sidecar stops.
type stuckPull struct {
	device.Hub
	entered chan struct{}
	release chan struct{}
	done    atomic.Bool
}

func (h *stuckPull) Pull(ctx context.Context, db string, req hub.PullRequest) ([]byte, error) {
	if req.Wait == 0 {
		return h.Hub.Pull(ctx, db, req) // SyncOnce's pull
	}
	select {
	case h.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	<-h.release
	h.done.Store(true)
	return nil, ctx.Err()
}

// TestRunWaitsForItsPull: Run returns only once its pull loop has, so that
// the caller (deltasync.Node.Close) can close the database after it.
func TestRunWaitsForItsPull(t *testing.T) {
	h := &stuckPull{Hub: hubs[0].new(t), entered: make(chan struct{}, 1), release: make(chan struct{})}
	d := newDevice(t, h, notes)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan bool)
	go func() {
		d.s.Run(ctx, device.RunOptions{Wait: time.Minute}) //nolint:errcheck // nil when ctx ends
		ran <- h.done.Load()
	}()
	select {
	case <-h.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the sidecar never long-polled")
	}
	cancel()
	// Let the pull go once Run returned, or after a while if it waits for
	// it, as it must.
	var pullDone bool
	select {
	case pullDone = <-ran:
		close(h.release)
	case <-time.After(2 * time.Second):
		close(h.release)
		pullDone = <-ran
	}
	if !pullDone {
		t.Error("Run returned while its pull was still running")
	}
}
