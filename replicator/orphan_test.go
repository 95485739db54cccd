package replicator_test

import (
	"context"
	"testing"

	"github.com/deltasync/deltasync/conflicts"
	"github.com/deltasync/deltasync/hub"
)

const orphanDDL = `CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT);
	CREATE TABLE tasks (id INTEGER PRIMARY KEY, project INTEGER REFERENCES projects (id) ON DELETE CASCADE, title TEXT);`

// TestOrphan: A deletes a project (its app enforces foreign keys, so the
// project's tasks go with it, and travel as deletes), while B adds a task
// to it. Both writes stand, so the new task names a project no node has:
// every node, the hub included, keeps it and records it as a conflict of
// kind orphan, which `conflicts` lists and `status` counts.
func TestOrphan(t *testing.T) {
	store := newStore(t)
	h := hub.Local{Store: store}
	a := newDevice(t, h, orphanDDL+`INSERT INTO projects VALUES (1, 'p1'); INSERT INTO tasks VALUES (10, 1, 'old');`)
	b := newDevice(t, h, orphanDDL)
	c := newDevice(t, h, orphanDDL)
	for _, d := range []*testDevice{a, b, c} {
		d.sync(t)
	}
	mustExec(t, a, `PRAGMA foreign_keys = ON; DELETE FROM projects WHERE id = 1`)
	mustExec(t, b, `INSERT INTO tasks VALUES (11, 1, 'new')`)
	for _, d := range []*testDevice{a, b, a, c} {
		d.sync(t)
	}
	r, err := store.Get(context.Background(), "app")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*testDevice{a, b, c} {
		if got := shellRows(t, d, `SELECT 'p', id FROM projects UNION ALL SELECT 't', id FROM tasks`); got != "t|11" {
			t.Errorf("%s holds %q, want task 11 only", d.path, got)
		}
		if got, want := summary(t, d.s.Node), "orphan 11 project: 1<(deleted)"; got != want {
			t.Errorf("%s recorded %q, want %q", d.path, got, want)
		}
	}
	if got, want := summary(t, r.Node), "orphan 11 project: 1<(deleted)"; got != want {
		t.Errorf("the hub recorded %q, want %q", got, want)
	}
	if n, err := conflicts.Unresolved(context.Background(), a.db); err != nil || n != 1 {
		t.Errorf("A counts %d unresolved conflicts (%v), want 1", n, err)
	}
}

// TestMergeWithForeignKeysOn: a device whose connection enforces foreign
// keys (an app sharing deltasync's pool turned them on) merges a batch
// whose child comes before its parent, and a parent deleted at the origin
// without its children: the merge neither fails on the order nor runs the
// ON DELETE CASCADE again (the origin kept the child), and leaves the
// connection enforcing keys as it found it.
func TestMergeWithForeignKeysOn(t *testing.T) {
	h := hub.Local{Store: newStore(t)}
	a := newDevice(t, h, orphanDDL)
	b := newDevice(t, h, orphanDDL)
	b.db.SetMaxOpenConns(1)
	mustExec(t, b, `PRAGMA foreign_keys = ON`)
	a.sync(t)
	b.sync(t)
	mustExec(t, a, `INSERT INTO tasks VALUES (20, 2, 'first'); INSERT INTO projects VALUES (2, 'p2')`)
	a.sync(t)
	b.sync(t)
	if got := shellRows(t, b, `SELECT id, project FROM tasks`); got != "20|2" {
		t.Fatalf("B holds tasks %q, want 20|2", got)
	}
	mustExec(t, a, `DELETE FROM projects WHERE id = 2`) // the shell does not enforce keys
	a.sync(t)
	b.sync(t)
	assertSame(t, a, b)
	if got := shellRows(t, b, `SELECT id, project FROM tasks`); got != "20|2" {
		t.Errorf("B holds tasks %q, want 20|2 kept, as on A", got)
	}
	if got, want := summary(t, b.s.Node), "orphan 20 project: 2<(deleted)"; got != want {
		t.Errorf("B recorded %q, want %q", got, want)
	}
	var on bool
	if err := b.db.Get(&on, `PRAGMA foreign_keys`); err != nil || !on {
		t.Errorf("B's connection enforces foreign keys: %v (%v), want it as it was, on", on, err)
	}
}
