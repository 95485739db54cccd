package hubtest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
)

var pullTests = []test{
	{"All", pullAll},
	{"LeavesOutOwn", pullLeavesOutOwn},
	{"Limit", pullLimit},
	{"WaitEnds", pullWaitEnds},
	{"WakesOnPush", pullWakesOnPush},
	{"SleepsThroughOwnPush", pullSleepsThroughOwnPush},
	{"Cancel", pullCancel},
	{"NoSchema", pullNoSchema},
	{"BadName", pullBadName},
}

// pullAll: a pull from version 0 serves every row pushed, as pushed.
func pullAll(t *testing.T, h device.Hub) {
	a := newNotesDevice(t)
	a.insert(t, "a", 3)
	join(t, h, a)
	frame, _ := a.frame(t, 0)
	v := push(t, h, frame)
	b := newNotesDevice(t)
	got := pull(t, h, hub.PullRequest{Site: b.site()})
	if want := rows(decode(t, frame)); !slices.Equal(rows(got), want) {
		t.Errorf("rows: got %q, want %q", rows(got), want)
	}
	if got.Last != v || got.Head != v {
		t.Errorf("last and head: got %d and %d, want %d and %d", got.Last, got.Head, v, v)
	}
}

// pullLeavesOutOwn: a device is never served its own writes back, but the
// answer still moves its cursor past them.
func pullLeavesOutOwn(t *testing.T, h device.Hub) {
	a := newNotesDevice(t)
	a.insert(t, "a", 3)
	v, _ := pushed(t, h, a)
	got := pull(t, h, hub.PullRequest{Site: a.site()})
	if len(got.Changes) != 0 {
		t.Errorf("changes served to their own writer: got %q, want none", rows(got))
	}
	if got.Last != v {
		t.Errorf("last: got %d, want %d", got.Last, v)
	}
}

// pullLimit: a pull carries about Limit changes, but never part of a
// merge: a device that pulled up to a version has seen every change the
// hub merged up to it. With a limit of 1, each pull serves one push.
func pullLimit(t *testing.T, h device.Hub) {
	a := newNotesDevice(t)
	join(t, h, a)
	var frames [][]byte
	var versions []change.Version
	var through change.Version
	for _, prefix := range []string{"a", "b", "c"} {
		a.insert(t, prefix, 2)
		var frame []byte
		frame, through = a.frame(t, through)
		frames, versions = append(frames, frame), append(versions, push(t, h, frame))
	}
	var since change.Version
	for i, frame := range frames {
		got := pull(t, h, hub.PullRequest{Since: since, Limit: 1})
		if got.First != since || got.Last != versions[i] {
			t.Errorf("pull %d with limit 1: got versions %d-%d, want %d-%d, push %d's", i+1, got.First, got.Last, since, versions[i], i+1)
		}
		if want := rows(decode(t, frame)); !slices.Equal(rows(got), want) {
			t.Errorf("pull %d with limit 1: got rows %q, want %q", i+1, rows(got), want)
		}
		since = got.Last
	}
}

// pullWaitEnds: a pull at the head with nothing new returns an empty batch
// once its wait has passed, not before.
func pullWaitEnds(t *testing.T, h device.Hub) {
	a := newNotesDevice(t)
	a.insert(t, "a", 1)
	v, _ := pushed(t, h, a)
	const wait = 300 * time.Millisecond
	start := time.Now()
	got := pull(t, h, hub.PullRequest{Since: v, Wait: wait, Site: newNotesDevice(t).site()})
	elapsed := time.Since(start)
	if elapsed < wait || elapsed > wait+answerWithin {
		t.Errorf("a pull with nothing new returned after %s, want from %s to %s", elapsed, wait, wait+answerWithin)
	}
	if len(got.Changes) != 0 || got.Last != v {
		t.Errorf("got %d changes through version %d, want 0 through %d", len(got.Changes), got.Last, v)
	}
}

// pullWakesOnPush: a long-poll returns as soon as another device's push
// lands, with that push.
func pullWakesOnPush(t *testing.T, h device.Hub) {
	a, b := newNotesDevice(t), newNotesDevice(t)
	a.insert(t, "a", 1)
	v, through := pushed(t, h, a)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := startPull(ctx, h, hub.PullRequest{Since: v, Wait: longWait, Site: b.site()})
	awaitWaiting(t, h)
	a.insert(t, "b", 2)
	frame, _ := a.frame(t, through)
	push(t, h, frame)
	wantFrame(t, awaitPull(t, done, "a long-poll when a push landed"), rows(decode(t, frame)))
}

// wantFrame fails t unless r is a frame of the rows want.
func wantFrame(t *testing.T, r pullResult, want []string) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("Pull: %v", r.err)
	}
	if got := rows(decode(t, r.frame)); !slices.Equal(got, want) {
		t.Errorf("rows: got %q, want %q", got, want)
	}
}

// pullSleepsThroughOwnPush: a long-poll is not ended by a push of the
// asking device's own, which it would not be served, but by another's.
func pullSleepsThroughOwnPush(t *testing.T, h device.Hub) {
	a, b := newNotesDevice(t), newNotesDevice(t)
	a.insert(t, "a", 1)
	v, through := pushed(t, h, a)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := startPull(ctx, h, hub.PullRequest{Since: v, Wait: longWait, Site: b.site()})
	awaitWaiting(t, h)
	b.insert(t, "b", 1)
	own, _ := b.frame(t, 0)
	push(t, h, own)
	a.insert(t, "c", 1)
	frame, _ := a.frame(t, through)
	push(t, h, frame)
	wantFrame(t, awaitPull(t, done, "a long-poll when another device's push landed"), rows(decode(t, frame)))
}

// pullCancel: a caller that gives up ends its long-poll.
func pullCancel(t *testing.T, h device.Hub) {
	a := newNotesDevice(t)
	a.insert(t, "a", 1)
	v, _ := pushed(t, h, a)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := startPull(ctx, h, hub.PullRequest{Since: v, Wait: longWait, Site: a.site()})
	awaitWaiting(t, h)
	cancel()
	r := awaitPull(t, done, "a long-poll whose context was cancelled")
	wantErr(t, "Pull", r.err, context.Canceled)
}

func pullNoSchema(t *testing.T, h device.Hub) {
	_, err := h.Pull(context.Background(), other, hub.PullRequest{})
	wantErr(t, "Pull of a database the hub never saw", err, hub.ErrNoSchema)
}

func pullBadName(t *testing.T, h device.Hub) {
	for _, name := range badNames {
		_, err := h.Pull(context.Background(), name, hub.PullRequest{})
		wantErr(t, "Pull of "+name, err, hub.ErrBadName)
	}
}
