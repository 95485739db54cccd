package hubtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
)

// Waiter is a hub that can say how many pulls of database db are waiting
// for a change. Run uses it, when the hub given has it, to push only once a
// long-poll waits; without it, a push may land before the pull waits, and
// the suite then checks only that the pull returns the change.
type Waiter interface {
	Waiting(db string) int
}

// Bounds of the suite's waits. They are generous, for a loaded machine:
// they fail a hub that never answers, never one that is slow.
const (
	// answerWithin is how long a pull that must end may take to end.
	answerWithin = 30 * time.Second
	// longWait is the Wait of a pull that must be ended by something else
	// than its wait: longer than answerWithin, so that a pull that only
	// timed out fails.
	longWait = 2 * time.Minute
)

// Run runs the contract against the hubs newHub makes: every subtest gets
// a new, empty hub, which newHub's cleanup (t.Cleanup) closes.
func Run(t *testing.T, newHub func(t *testing.T) device.Hub) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Schema", schemaTests},
		{"PutSchema", putSchemaTests},
		{"Push", pushTests},
		{"Pull", pullTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, newHub(t)) })
			}
		})
	}
}

// test is one check of the contract, given a new hub.
type test struct {
	name string
	run  func(t *testing.T, h device.Hub)
}

// wantErr fails t unless err is want, by errors.Is.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// join gives the hub d's schema, as a device's first sync does.
func join(t *testing.T, h device.Hub, d *testDevice) {
	t.Helper()
	if err := h.PutSchema(context.Background(), db, d.doc(t)); err != nil {
		t.Fatalf("PutSchema: %v", err)
	}
}

// push pushes frame and returns the hub's version after it.
func push(t *testing.T, h device.Hub, frame []byte) change.Version {
	t.Helper()
	res, err := h.Push(context.Background(), db, frame)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	return res.Version
}

// pushed joins d and pushes every change d has; it returns the hub's
// version and d's version that the push reached.
func pushed(t *testing.T, h device.Hub, d *testDevice) (version, through change.Version) {
	t.Helper()
	join(t, h, d)
	frame, through := d.frame(t, 0)
	return push(t, h, frame), through
}

// pull pulls without waiting and decodes the answer.
func pull(t *testing.T, h device.Hub, req hub.PullRequest) *codec.Batch {
	t.Helper()
	frame, err := h.Pull(context.Background(), db, req)
	if err != nil {
		t.Fatalf("Pull(%+v): %v", req, err)
	}
	return decode(t, frame)
}

// pullResult is what a pull in another goroutine returned.
type pullResult struct {
	frame []byte
	err   error
}

// startPull starts a pull in a goroutine; its result arrives on the channel.
func startPull(ctx context.Context, h device.Hub, req hub.PullRequest) <-chan pullResult {
	done := make(chan pullResult, 1)
	go func() {
		frame, err := h.Pull(ctx, db, req)
		done <- pullResult{frame, err}
	}()
	return done
}

// awaitWaiting returns once a pull of db waits on h, if h can tell (Waiter).
func awaitWaiting(t *testing.T, h device.Hub) {
	t.Helper()
	w, ok := h.(Waiter)
	if !ok {
		return
	}
	for deadline := time.Now().Add(answerWithin); w.Waiting(db) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no pull was waiting after %s", answerWithin)
		}
	}
}

// awaitPull returns the result of a pull started with startPull, failing t
// if it does not arrive within answerWithin.
func awaitPull(t *testing.T, done <-chan pullResult, what string) pullResult {
	t.Helper()
	timer := time.NewTimer(answerWithin)
	defer timer.Stop()
	select {
	case r := <-done:
		return r
	case <-timer.C:
		t.Fatalf("%s: the pull had not returned after %s", what, answerWithin)
	}
	return pullResult{}
}
