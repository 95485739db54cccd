package replicator_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/replicator"
)

// TestOutgoingInBatches pushes a backlog in batches of 4 changelog rows:
// each push absorbs only its own batch and sends the clocks that absorb
// wrote without reading them back. For every row and column, the clock in
// the last batch that carries it must be the one a read of the whole
// backlog finds afterwards in _sync_clock, seen stamp included.
func TestOutgoingInBatches(t *testing.T) {
	for _, p := range changelog.Policies {
		t.Run(string(p), func(t *testing.T) {
			ctx := context.Background()
			h := hubs[0].new(t)
			policies := map[string]changelog.Policy{"notes": p}
			other := installDevice(t, h, notes, policies)
			mustExec(t, other, `INSERT INTO notes VALUES ('o1', 'from other', NULL, 1, NULL)`)
			other.sync(t)
			d := installDevice(t, h, notes, policies)
			d.sync(t) // the writes below have seen o1: their clocks carry a Seen
			cur, err := changelog.ReadCursors(ctx, d.db, changelog.Hub)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				mustExec(t, d, fmt.Sprintf(`INSERT INTO notes VALUES ('n%d', 't', 'b', %d, x'01')`, i, i))
				nextMilli()
			}
			for _, q := range []string{
				`UPDATE notes SET title = 'u1' WHERE id = 'n1'`,
				`UPDATE notes SET title = 'u2', n = 20 WHERE id = 'n2'`,
				`DELETE FROM notes WHERE id = 'n3'`,
				`UPDATE notes SET body = 'u1' WHERE id = 'n1'`,
				`DELETE FROM notes WHERE id = 'n4'`,
				`INSERT INTO notes VALUES ('n4', 'again', NULL, 4, NULL)`,
				`UPDATE notes SET n = 7 WHERE id = 'o1'`,
				`UPDATE notes SET data = x'02' WHERE id = 'n9'`,
				`DELETE FROM notes WHERE id = 'n8'`,
				`UPDATE notes SET title = 'u3' WHERE id = 'n2'`,
			} {
				mustExec(t, d, q)
				nextMilli()
			}
			n := d.s.Node
			n.BatchSize = 4
			last := map[string]clockOf{}
			frames := 0
			for since := cur.Pushed; ; frames++ {
				frame, through, _, err := n.Outgoing(ctx, since)
				if err != nil {
					t.Fatal(err)
				}
				if through == since {
					break
				}
				clocksByColumn(t, n, frame, last)
				since = through
			}
			if frames < 5 {
				t.Fatalf("the backlog went out in %d batches, want 5 or more", frames)
			}
			n.BatchSize = 0
			frame, _, _, err := n.Outgoing(ctx, cur.Pushed)
			if err != nil {
				t.Fatal(err)
			}
			all := map[string]clockOf{}
			clocksByColumn(t, n, frame, all)
			for k, c := range last {
				if got, ok := all[k]; !ok || got != c {
					t.Errorf("%s: sent %+v in batches, read back %+v", k, c, got)
				}
			}
		})
	}
}

// clockOf is a clock as a frame carries it, with the site resolved.
type clockOf struct {
	op   change.Op
	hlc  change.HLC
	site change.SiteID
	seen change.Version
}

// clocksByColumn records, by "key/column", the clock of each column frame
// carries; "key/" is an insert's or delete's row clock, which a later
// update makes moot (under lww-row it moves the row clock).
func clocksByColumn(t *testing.T, n *replicator.Node, frame []byte, into map[string]clockOf) {
	t.Helper()
	dec, err := codec.NewDecoder(codec.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	b, err := dec.Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.Changes {
		key := fmt.Sprint(c.Key...)
		delete(into, key+"/")
		if c.Op != change.Update {
			into[key+"/"] = clockOf{c.Op, c.Clock.HLC, b.Sites[c.Clock.Site], c.Clock.Seen}
		}
		for i, col := range c.Columns {
			cc := c.Clocks[i]
			into[key+"/"+b.Tables[c.Table].Columns[col]] = clockOf{0, cc.HLC, b.Sites[cc.Site], cc.Seen}
		}
	}
}
