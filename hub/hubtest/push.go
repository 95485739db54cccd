package hubtest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/replicator/rules"
)

var pushTests = []test{
	{"Version", pushVersion},
	{"Again", pushAgain},
	{"NotAFrame", pushNotAFrame},
	{"Refused", pushRefused},
	{"Unique", pushUnique},
	{"NoSchema", pushNoSchema},
	{"BadName", pushBadName},
}

// pushVersion: the version a push returns is the hub's head, which a pull
// then reports, and each push that brings changes moves it.
func pushVersion(t *testing.T, h device.Hub) {
	a := newNotesDevice(t)
	a.insert(t, "a", 3)
	v1, through := pushed(t, h, a)
	if v1 == 0 {
		t.Fatalf("version after the first push: got 0, want more than 0")
	}
	if got := pull(t, h, hub.PullRequest{}).Head; got != v1 {
		t.Errorf("head of a pull after the push: got %d, want the push's version %d", got, v1)
	}
	a.insert(t, "b", 2)
	frame, _ := a.frame(t, through)
	if v2 := push(t, h, frame); v2 <= v1 {
		t.Errorf("version after a second push of new rows: got %d, want more than %d", v2, v1)
	}
}

// pushAgain: a device whose push was merged but not acknowledged sends it
// again; the second merge changes nothing.
func pushAgain(t *testing.T, h device.Hub) {
	a := newNotesDevice(t)
	a.insert(t, "a", 3)
	join(t, h, a)
	frame, _ := a.frame(t, 0)
	v1 := push(t, h, frame)
	before := rows(pull(t, h, hub.PullRequest{}))
	if v2 := push(t, h, frame); v2 != v1 {
		t.Errorf("version after the same push again: got %d, want %d", v2, v1)
	}
	if after := rows(pull(t, h, hub.PullRequest{})); !slices.Equal(after, before) {
		t.Errorf("rows after the same push again: got %q, want %q", after, before)
	}
}

// pushNotAFrame: bytes that are not a whole frame are refused with the
// codec's error, and merge nothing.
func pushNotAFrame(t *testing.T, h device.Hub) {
	a := newNotesDevice(t)
	a.insert(t, "a", 3)
	join(t, h, a)
	frame, _ := a.frame(t, 0)
	for _, tc := range notFrames(frame) {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.Push(context.Background(), db, tc.frame)
			wantErr(t, "Push", err, tc.want)
			wantNothing(t, h)
		})
	}
}

type notFrame struct {
	name  string
	frame []byte
	want  error
}

// notFrames are frame, cut, extended or damaged.
func notFrames(frame []byte) []notFrame {
	with := func(i int, b byte) []byte {
		f := slices.Clone(frame)
		f[i] ^= b
		return f
	}
	return []notFrame{
		{"Empty", nil, codec.ErrTruncated},
		{"Text", []byte("not a frame"), codec.ErrBadMagic},
		{"Junk", bytes.Repeat([]byte("x"), 300), codec.ErrBadMagic},
		{"HalfHeader", frame[:codec.HeaderSize/2], codec.ErrTruncated},
		{"HeaderOnly", frame[:codec.HeaderSize], codec.ErrTruncated},
		{"ShortBody", frame[:len(frame)-1], codec.ErrTruncated},
		{"Trailing", append(slices.Clone(frame), 0), codec.ErrCorrupt},
		{"Version", with(len(codec.Magic), 0x40), codec.ErrVersion},
		{"HeaderDamaged", with(codec.HeaderSize/2, 1), codec.ErrChecksum},
		{"BodyDamaged", with(len(frame)-1, 1), codec.ErrChecksum},
	}
}

// wantNothing fails t if the hub serves any change.
func wantNothing(t *testing.T, h device.Hub) {
	t.Helper()
	if got := rows(pull(t, h, hub.PullRequest{})); len(got) != 0 {
		t.Errorf("rows on the hub after a refused push: got %q, want none", got)
	}
}

// pushRefused: a frame that decodes but that the hub must not merge is
// refused whole, with the error that says why.
func pushRefused(t *testing.T, h device.Hub) {
	a := newNotesDevice(t)
	a.insert(t, "a", 2)
	join(t, h, a)
	frame, _ := a.frame(t, 0)
	for _, tc := range refusals(t) {
		t.Run(tc.name, func(t *testing.T) {
			b := decode(t, frame)
			tc.change(b)
			_, err := h.Push(context.Background(), db, encode(t, b))
			for _, want := range tc.want {
				wantErr(t, "Push", err, want)
			}
			wantNothing(t, h)
		})
	}
}

type refusal struct {
	name   string
	change func(b *codec.Batch)
	want   []error
}

// refusals change an honest push of inserts into notes into one the hub
// must refuse.
func refusals(t *testing.T) []refusal {
	future := change.HLCAt(time.Now().Add(time.Hour))
	stranger := newNotesDevice(t).site()
	return []refusal{
		{"OtherSchema", func(b *codec.Batch) { b.Fingerprint[0] ^= 1 }, []error{replicator.ErrSchemaMismatch}},
		{"UnknownTable", func(b *codec.Batch) { b.Tables[0].Name = "nope" }, []error{replicator.ErrUnknownTable}},
		{"UnknownColumn", func(b *codec.Batch) { renameColumn(b, "body", "nope") }, []error{replicator.ErrUnknownColumn}},
		{"ClockSkew", func(b *codec.Batch) { b.Changes[0].Clock.HLC = future }, []error{replicator.ErrClockSkew}},
		{"OtherSite", func(b *codec.Batch) {
			b.Sites = append(b.Sites, stranger)
			b.Changes[0].Clock.Site = len(b.Sites) - 1
		}, []error{replicator.ErrInvalidBatch}},
		{"Notice", func(b *codec.Batch) { b.Changes[0].Op = change.Lost }, []error{replicator.ErrInvalidBatch, replicator.ErrNotice}},
		{"Check", func(b *codec.Batch) { setValue(b, 0, "n", int64(-1)) }, []error{replicator.ErrConstraint}},
		{"NotNull", func(b *codec.Batch) { setValue(b, 0, "n", nil) }, []error{replicator.ErrConstraint}},
	}
}

// renameColumn renames column from of the batch's first table.
func renameColumn(b *codec.Batch, from, to string) {
	cols := b.Tables[0].Columns
	cols[slices.Index(cols, from)] = to
}

// setValue sets column col of change i to v.
func setValue(b *codec.Batch, i int, col string, v any) {
	c := b.Changes[i]
	ci := slices.Index(b.Tables[c.Table].Columns, col)
	c.Values[slices.Index(c.Columns, ci)] = v
}

// pushUnique: a row that takes a UNIQUE value another row holds loses: the
// push succeeds, the row is applied nowhere, and the pusher's next pull
// carries a loss notice of kind unique for it.
func pushUnique(t *testing.T, h device.Hub) {
	a := newNotesDevice(t)
	a.exec(t, `INSERT INTO notes (id, tag) VALUES ('a1', 'red')`)
	join(t, h, a)
	frame, _ := a.frame(t, 0)
	push(t, h, frame)
	b := decode(t, frame)
	b.Changes[0].Key = []any{"a2"}
	setValue(b, 0, "id", "a2")
	if _, err := h.Push(context.Background(), db, encode(t, b)); err != nil {
		t.Fatalf("Push of a second row with the tag: %v, want it merged, the row losing", err)
	}
	for _, r := range rows(pull(t, h, hub.PullRequest{})) {
		if strings.Contains(r, "a2") && !strings.HasPrefix(r, "notes delete") {
			t.Errorf("the hub serves the row that lost: %s", r)
		}
	}
	var notices []string
	for _, c := range pull(t, h, hub.PullRequest{Site: a.site()}).Changes {
		if c.Op == change.Lost && c.Clock.Seen == rules.KindNumber(rules.KindUnique) {
			notices = append(notices, fmt.Sprint(c.Key))
		}
	}
	if !slices.Equal(notices, []string{"[a2]"}) {
		t.Errorf("the pusher's pull carries unique notices for %v, want [a2]", notices)
	}
}

func pushNoSchema(t *testing.T, h device.Hub) {
	a := newNotesDevice(t)
	a.insert(t, "a", 1)
	frame, _ := a.frame(t, 0)
	_, err := h.Push(context.Background(), other, frame)
	wantErr(t, "Push to a database the hub never saw", err, hub.ErrNoSchema)
}

func pushBadName(t *testing.T, h device.Hub) {
	a := newNotesDevice(t)
	a.insert(t, "a", 1)
	frame, _ := a.frame(t, 0)
	for _, name := range badNames {
		_, err := h.Push(context.Background(), name, frame)
		wantErr(t, "Push to "+name, err, hub.ErrBadName)
	}
}
