package hub_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/internal/dbtest"
	"github.com/deltasync/deltasync/replicator"
)

const validateDDL = `CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT);
CREATE TABLE counts (id INTEGER PRIMARY KEY, n INTEGER NOT NULL) STRICT;`

// attack is a hub over HTTP with two devices on database "notes": b has
// written rows, and a crafts frames.
type attack struct {
	dir    string // the hub's data directory
	client *hub.Client
	a, b   *device.Syncer
	bdb    *sqlx.DB
	enc    *codec.Encoder
	dec    *codec.Decoder
}

func newAttack(t *testing.T) *attack {
	t.Helper()
	at := &attack{dir: filepath.Join(t.TempDir(), "hub")}
	st := hub.NewStore(at.dir)
	st.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(hub.NewServer(st).Handler())
	t.Cleanup(srv.Close)
	at.client = hub.NewClient(srv.URL, "")
	var bpath string
	at.a, _, _ = newSyncer(t, at.client, validateDDL)
	at.b, bpath, at.bdb = newSyncer(t, at.client, validateDDL)
	dbtest.Shell(t, bpath, `INSERT INTO notes VALUES ('b1', 'from b'); INSERT INTO counts VALUES (1, 5);`)
	ctx := context.Background()
	for _, s := range []*device.Syncer{at.b, at.a} {
		if _, err := s.SyncOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if at.enc, err = codec.NewEncoder(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(at.enc.Close)
	if at.dec, err = codec.NewDecoder(codec.DefaultLimits); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(at.dec.Close)
	return at
}

// own is a's honest push of an update of b's row b1, decoded.
func (at *attack) own(t *testing.T) *codec.Batch {
	t.Helper()
	if _, err := at.a.Node.DB.Exec(`UPDATE notes SET body = 'from a' WHERE id = 'b1'`); err != nil {
		t.Fatal(err)
	}
	frame, _, _, err := at.a.Node.Outgoing(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := at.dec.Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Changes) != 1 || len(b.Changes[0].Columns) != 1 {
		t.Fatalf("a's push: %+v, want one update of one column", b.Changes)
	}
	return b
}

// insert is a's push of one insert into table, of a row of two columns.
func (at *attack) insert(t *testing.T, table string, cols []string, key []any, values ...any) *codec.Batch {
	t.Helper()
	_, fp, err := at.a.Node.Schema(context.Background(), at.a.Node.DB)
	if err != nil {
		t.Fatal(err)
	}
	site := change.SiteID(at.a.Node.Site())
	clock := codec.Clock{HLC: change.HLC(time.Now().UnixMilli()) << 16}
	c := codec.Change{Op: change.Insert, Key: key, Clock: clock, Values: values}
	for i := range values {
		c.Columns, c.Clocks = append(c.Columns, i), append(c.Clocks, clock)
	}
	return &codec.Batch{Fingerprint: fp, Origin: site, First: 100, Last: 101, Sites: []change.SiteID{site},
		Tables: []codec.Table{{Name: table, Columns: cols}}, Changes: []codec.Change{c}}
}

func (at *attack) encode(t *testing.T, b *codec.Batch) []byte {
	t.Helper()
	frame, err := at.enc.Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return frame
}

// withSite adds b's site to a batch and returns its index.
func (at *attack) withSite(b *codec.Batch) int {
	b.Sites = append(b.Sites, change.SiteID(at.b.Node.Site()))
	return len(b.Sites) - 1
}

// hubState is the hub's replica as text, deltasync's tables included.
func (at *attack) hubState(t *testing.T) string {
	t.Helper()
	return dbtest.Shell(t, filepath.Join(at.dir, "notes.db"), ".dump")
}

// TestPushRefusesInvalid: every frame below is refused over HTTP with a
// 4xx that names what was wrong, and the hub's replica stays as it was,
// byte for byte; b's rows never change on b.
func TestPushRefusesInvalid(t *testing.T) {
	at := newAttack(t)
	cases := []struct {
		name   string
		frame  func() []byte
		status int
		want   error
		detail string
	}{
		{"origin of b, clocks of a", func() []byte {
			b := at.own(t)
			b.Origin = change.SiteID(at.b.Node.Site())
			return at.encode(t, b)
		}, http.StatusUnprocessableEntity, replicator.ErrInvalidBatch, "not the pushing site"},
		{"row clock of b in a's frame", func() []byte {
			b := at.own(t)
			b.Changes[0].Clock.Site = at.withSite(b)
			return at.encode(t, b)
		}, http.StatusUnprocessableEntity, replicator.ErrInvalidBatch, "change 0: row clock names site"},
		{"column clock of b in a's frame", func() []byte {
			b := at.own(t)
			b.Changes[0].Clocks[0].Site = at.withSite(b)
			return at.encode(t, b)
		}, http.StatusUnprocessableEntity, replicator.ErrInvalidBatch, "change 0: clock of column 0 names site"},
		{"loss notice", func() []byte {
			b := at.own(t)
			b.Changes[0].Op = change.Lost
			return at.encode(t, b)
		}, http.StatusUnprocessableEntity, replicator.ErrInvalidBatch, "loss notice"},
		{"integer key as TEXT", func() []byte {
			return at.encode(t, at.insert(t, "counts", []string{"id", "n"}, []any{"42"}, "42", int64(1)))
		}, http.StatusUnprocessableEntity, replicator.ErrInvalidBatch, `"counts"): key column "id" is a rowid and takes an INTEGER, got TEXT`},
		{"integer key as REAL", func() []byte {
			return at.encode(t, at.insert(t, "counts", []string{"id", "n"}, []any{43.0}, 43.0, int64(1)))
		}, http.StatusUnprocessableEntity, replicator.ErrInvalidBatch, "got REAL"},
		{"NULL key", func() []byte {
			return at.encode(t, at.insert(t, "counts", []string{"id", "n"}, []any{nil}, nil, int64(1)))
		}, http.StatusUnprocessableEntity, replicator.ErrInvalidBatch, `key column "id" is NULL`},
		{"key of 2 values", func() []byte {
			return at.encode(t, at.insert(t, "notes", []string{"id", "body"}, []any{"x", "y"}, "x", "y"))
		}, http.StatusUnprocessableEntity, replicator.ErrInvalidBatch, "key of 2 values"},
		{"STRICT type", func() []byte {
			return at.encode(t, at.insert(t, "counts", []string{"id", "n"}, []any{int64(2)}, int64(2), "many"))
		}, http.StatusUnprocessableEntity, replicator.ErrConstraint, `row (2) of "counts": column "n"`},
		{"column named twice", func() []byte {
			// The encoder refuses a repeated name: encode another name of
			// the same length, then change it in the stored body.
			b := at.insert(t, "notes", []string{"id", "body", "bodz"}, []any{"x"}, "x", "y", "z")
			return rename(t, at.encode(t, b), "bodz", "body")
		}, http.StatusBadRequest, codec.ErrCorrupt, `column "body" of table "notes" named twice`},
	}
	before := at.hubState(t)
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := at.client.Push(ctx, "notes", tc.frame())
			var he *hub.HubError
			if !errors.As(err, &he) || he.Status != tc.status || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %d (%v)", err, tc.status, tc.want)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("got %q, want it to say %q", err, tc.detail)
			}
			if after := at.hubState(t); after != before {
				t.Errorf("a refused push changed the hub's replica:\n%s\nwant:\n%s", after, before)
			}
		})
	}
	if _, err := at.b.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	var rows string
	if err := at.bdb.Get(&rows, `SELECT (SELECT group_concat(id || '=' || body) FROM notes) || ' ' || (SELECT group_concat(id || '=' || n) FROM counts)`); err != nil {
		t.Fatal(err)
	}
	if rows != "b1=from b 1=5" {
		t.Errorf("b holds %q after the attacks, want its own rows: b1=from b 1=5", rows)
	}
}

// TestPushTwiceAddsOnce: an integer-keyed insert pushed twice is one row.
func TestPushTwiceAddsOnce(t *testing.T) {
	at := newAttack(t)
	frame := at.encode(t, at.insert(t, "counts", []string{"id", "n"}, []any{int64(42)}, int64(42), int64(7)))
	for range 2 {
		if _, err := at.client.Push(context.Background(), "notes", frame); err != nil {
			t.Fatal(err)
		}
	}
	state := at.hubState(t)
	if got := strings.Count(state, "INSERT INTO counts VALUES"); got != 2 || !strings.Contains(state, "INSERT INTO counts VALUES(42,7);") {
		t.Errorf("the hub holds %d rows of counts after the same push twice, want b's and 42=7:\n%s", got, state)
	}
}

// rename changes a name of the same length in an uncompressed frame and
// makes its checksums right again, as a hand-made frame would have them.
func rename(t *testing.T, frame []byte, from, to string) []byte {
	t.Helper()
	if frame[5]&codec.FlagZstd != 0 || len(from) != len(to) {
		t.Fatal("rename needs a stored body and names of one length")
	}
	i := bytes.Index(frame[codec.HeaderSize:], []byte(from))
	if i < 0 {
		t.Fatalf("%q is not in the frame", from)
	}
	copy(frame[codec.HeaderSize+i:], to)
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	binary.BigEndian.PutUint32(frame[92:], crc32.Checksum(frame[codec.HeaderSize:], castagnoli))
	binary.BigEndian.PutUint32(frame[96:], crc32.Checksum(frame[:96], castagnoli))
	return frame
}
