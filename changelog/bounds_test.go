package changelog_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/deltasync/deltasync/change"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/internal/dbtest"
)

const filesDDL = `CREATE TABLE files (id INTEGER PRIMARY KEY, name TEXT, data BLOB);`

const kib = 1024

// readBounded reads every change after since in batches bounded by o,
// returning the batches.
func readBounded(t *testing.T, l *changelog.Log, since change.Version, o changelog.ReadOptions) []*changelog.Batch {
	t.Helper()
	var out []*changelog.Batch
	for {
		b, err := l.ReadBounded(context.Background(), since, o)
		if err != nil {
			t.Fatal(err)
		}
		if b.Through == since {
			return out
		}
		out = append(out, b)
		since = b.Through
	}
}

func batchSize(b *changelog.Batch) int64 {
	var n int64
	for _, c := range b.Changes {
		n += c.Size
	}
	return n
}

// A read stops adding changes once their bytes would pass MaxBytes, but
// always returns one; every change comes exactly once, with its values.
func TestReadBoundedCutsByBytes(t *testing.T) {
	path, db := mustInstall(t, filesDDL)
	// 300 KiB each, one of 2 MiB (over the bound: it travels alone), then
	// small rows written after it.
	dbtest.Shell(t, path, `
		INSERT INTO files VALUES (1, 'a', randomblob(300*1024)), (2, 'b', randomblob(300*1024)), (3, 'c', randomblob(300*1024));
		INSERT INTO files VALUES (4, 'big', randomblob(2*1024*1024));
		INSERT INTO files VALUES (5, 'd', randomblob(300*1024)), (6, 'e', 'small'), (7, 'f', 'small');
		UPDATE files SET name = 'a2' WHERE id = 1;`)
	const maxBytes = 1024 * kib
	batches := readBounded(t, changelog.New(db), 0, changelog.ReadOptions{Limit: 1000, MaxBytes: maxBytes})
	seen := map[int64]int{}
	for i, b := range batches {
		if n := batchSize(b); n > maxBytes && len(b.Changes) > 1 {
			t.Errorf("batch %d: %d changes of %d bytes, want at most %d bytes or one change", i, len(b.Changes), n, maxBytes)
		}
		for _, c := range b.Changes {
			seen[c.Key[0].(int64)]++
			if c.Op != change.Delete && c.Values == nil {
				t.Errorf("batch %d: change of row %v without values", i, c.Key)
			}
		}
		if i < len(batches)-1 && !b.More {
			t.Errorf("batch %d: More false before the last batch", i)
		}
	}
	if len(batches) < 3 {
		t.Errorf("got %d batches, want at least 3 (3.2 MiB of rows, 1 MiB a batch)", len(batches))
	}
	for id := int64(1); id <= 7; id++ {
		if seen[id] == 0 {
			t.Errorf("row %d never read", id)
		}
	}
}

// A change over MaxRowBytes comes without its values, marked TooLarge,
// and the changes around it come as usual.
func TestReadBoundedMarksTooLarge(t *testing.T) {
	path, db := mustInstall(t, filesDDL)
	dbtest.Shell(t, path, `INSERT INTO files VALUES (1, 'a', 'small');
		INSERT INTO files VALUES (2, 'big', randomblob(2*1024*1024));
		INSERT INTO files VALUES (3, 'c', 'small');`)
	b, err := changelog.New(db).ReadBounded(context.Background(), 0, changelog.ReadOptions{MaxBytes: 8 << 20, MaxRowBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Changes) != 3 {
		t.Fatalf("got %d changes, want 3", len(b.Changes))
	}
	for _, c := range b.Changes {
		big := c.Key[0].(int64) == 2
		if c.TooLarge != big || big && (c.Values != nil || c.Size < 2<<20 || len(c.Columns) != 3) {
			t.Errorf("row %v: TooLarge %v, %d values, %d columns, size %d; want TooLarge only for row 2, without values, with its size and columns",
				c.Key, c.TooLarge, len(c.Values), len(c.Columns), c.Size)
		}
		if !big && len(c.Values) != 3 {
			t.Errorf("row %v: %d values, want 3", c.Key, len(c.Values))
		}
	}
}

// A hub serving a device (Origin set) cuts only between merges, and
// serves a merge larger than MaxBytes whole, alone.
func TestReadBoundedKeepsMergesWhole(t *testing.T) {
	_, db := mustInstall(t, filesDDL)
	ctx := context.Background()
	l := changelog.New(db)
	var merges [][2]change.Version
	for i, sizes := range [][]int{{400, 400}, {3000}, {400}, {400, 400}, {10, 10, 10}} {
		before, _ := l.LastVersion(ctx)
		err := l.ApplyRemote(ctx, change.SiteID{1}, func(tx *sqlx.Tx) error {
			for j, kb := range sizes {
				if _, err := tx.Exec(`INSERT INTO files VALUES (?, 'x', randomblob(?))`, i*10+j, kb*kib); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		after, _ := l.LastVersion(ctx)
		merges = append(merges, [2]change.Version{before, after})
	}
	ends := map[change.Version]bool{}
	for _, m := range merges {
		ends[m[1]] = true
	}
	asker := change.SiteID{2}
	batches := readBounded(t, l, 0, changelog.ReadOptions{Limit: 1000, MaxBytes: 1024 * kib, Origin: &asker})
	var got []string
	for _, b := range batches {
		if !ends[b.Through] {
			t.Errorf("batch (%d, %d] ends inside a merge; merges %v", b.Since, b.Through, merges)
		}
		got = append(got, fmt.Sprint(len(b.Changes)))
	}
	// 800 KiB; 3 MiB alone; 400 KiB, as the next merge would pass 1 MiB
	// in its second row; the last two merges, 830 KiB.
	if want := "[2 1 1 5]"; fmt.Sprint(got) != want {
		t.Errorf("changes per batch: got %v, want %s", got, want)
	}
}
