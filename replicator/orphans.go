package replicator

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/conflicts"
	"github.com/deltasync/deltasync/replicator/rules"
	"github.com/deltasync/deltasync/schema"
)

// childKey is a foreign key of a tracked table, the child.
type childKey struct {
	child changelog.Tracked
	schema.ForeignKey
}

// foreignKeys returns the foreign keys of the tracked tables, read once
// per schema (the fingerprint covers the tables' SQL, and so their keys).
func (n *Node) foreignKeys(ctx context.Context, q querier, tracked map[string]changelog.Tracked, fp [32]byte) ([]childKey, error) {
	if n.fks.fp == fp && n.fks.keys != nil {
		return n.fks.keys, nil
	}
	keys := []childKey{}
	for _, t := range tracked {
		fks, err := schema.ForeignKeys(ctx, q, t.Table.Name)
		if err != nil {
			return nil, err
		}
		for _, fk := range fks {
			keys = append(keys, childKey{child: t, ForeignKey: fk})
		}
	}
	n.fks.fp, n.fks.keys = fp, keys
	return keys, nil
}

// orphans records, as conflicts of kind orphan, the rows this batch left
// naming a parent row that is not there: a child row it wrote whose parent
// is missing, and the child rows of a parent it deleted. Those come from
// a parent deleted on one device while a child was written for it on
// another; the merge keeps both writes (replay runs without foreign key
// enforcement: see package doc), so the orphan is on every node, and
// every node records it. A child whose foreign key is NULL names no
// parent. Parents named by columns other than their key are checked from
// the child's side only.
func (m *merge) orphans(keys []childKey) error {
	for _, fk := range keys {
		parent, ok := trackedNamed(m.tracked, fk.Parent)
		if !ok {
			continue // an untracked parent: the app's own business
		}
		var deleted [][]any // keys of parent rows the batch deleted
		for _, c := range m.b.Changes {
			t := m.targets[c.Table]
			switch {
			case t.ID == fk.child.ID && (c.Op == change.Insert || c.Op == change.Update && writesAny(t, c, fk.From)):
				if err := m.checkChild(fk, parent, c.Key); err != nil {
					return fmt.Errorf("look for orphans of %s in %s: %w", schema.Ident(fk.Parent), schema.Ident(fk.child.Table.Name), err)
				}
			case t.ID == parent.ID && c.Op == change.Delete && sameColumns(fk.To, parent.Table.Key):
				deleted = append(deleted, c.Key)
			}
		}
		for chunk := range slices.Chunk(deleted, maxParams/(2*len(fk.From))) {
			if err := m.checkChildrenOf(fk, chunk); err != nil {
				return fmt.Errorf("look for orphans of %s in %s: %w", schema.Ident(fk.Parent), schema.Ident(fk.child.Table.Name), err)
			}
		}
	}
	return nil
}

// trackedNamed finds a tracked table by a name as SQLite matches names.
func trackedNamed(tracked map[string]changelog.Tracked, name string) (changelog.Tracked, bool) {
	if t, ok := tracked[name]; ok {
		return t, true
	}
	for n, t := range tracked {
		if strings.EqualFold(n, name) {
			return t, true
		}
	}
	return changelog.Tracked{}, false
}

// writesAny reports whether change c of t writes one of cols.
func writesAny(t *target, c codec.Change, cols []string) bool {
	for _, ci := range c.Columns {
		for _, name := range cols {
			if strings.EqualFold(t.cols[ci].Name, name) {
				return true
			}
		}
	}
	return false
}

func sameColumns(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}

// checkChild records the child row key of fk as an orphan if its parent
// is missing.
func (m *merge) checkChild(fk childKey, parent changelog.Tracked, key []any) error {
	child := fk.child.Table
	refs := make([]any, len(fk.From))
	ptrs := make([]any, len(refs))
	for i := range refs {
		ptrs[i] = &refs[i]
	}
	st, err := m.prepare(fmt.Sprintf(`SELECT %s FROM %s WHERE %s`, identList(fk.From), schema.Ident(child.Name), keyWhere(child)))
	if err != nil {
		return err
	}
	if err := st.QueryRowxContext(m.ctx, key...).Scan(ptrs...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil // the batch deleted it
		}
		return err
	}
	for _, v := range refs {
		if v == nil {
			return nil // names no parent
		}
	}
	eq := make([]string, len(fk.To))
	for i, col := range fk.To {
		eq[i] = schema.Ident(col) + " = ?"
	}
	st, err = m.prepare(fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s`, schema.Ident(parent.Table.Name), strings.Join(eq, " AND ")))
	if err != nil {
		return err
	}
	var n int
	if err := st.GetContext(m.ctx, &n, refs...); err != nil || n > 0 {
		return err
	}
	return m.recordOrphan(fk, key, refs)
}

// checkChildrenOf records as orphans the child rows of fk that name one of
// the deleted parents whose keys are keys: one query for them all, as the
// child's columns may have no index.
func (m *merge) checkChildrenOf(fk childKey, keys [][]any) error {
	child := fk.child.Table
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(fk.From)), ", ") + ")"
	var args []any
	for _, k := range keys {
		args = append(args, k...)
	}
	// "+": no declared type, so the key comes back by its storage class,
	// as a batch carries it.
	q := fmt.Sprintf(`SELECT +%s, +%s FROM %s WHERE (%s) IN (VALUES %s)`, strings.Join(quoted(child.Key), ", +"),
		strings.Join(quoted(fk.From), ", +"), schema.Ident(child.Name), identList(fk.From),
		strings.TrimSuffix(strings.Repeat(tuple+", ", len(keys)), ", "))
	rows, err := m.tx.QueryxContext(m.ctx, q, args...)
	if err != nil {
		return err
	}
	var found [][]any
	for rows.Next() {
		r, err := rows.SliceScan()
		if err != nil {
			rows.Close()
			return err
		}
		found = append(found, r)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, r := range found {
		if err := m.recordOrphan(fk, r[:len(child.Key)], r[len(child.Key):]); err != nil {
			return err
		}
	}
	return nil
}

// recordOrphan records the child row key of fk, whose columns hold refs,
// as an orphan: per column, the reference it holds lost its parent.
func (m *merge) recordOrphan(fk childKey, key, refs []any) error {
	clocks, err := m.s.load(fk.child.ID, changelog.KeyBytes(key))
	if err != nil {
		return err
	}
	out := make([]conflicts.Column, len(fk.From))
	for i, name := range fk.From {
		lc, _ := clocks.Column(fk.child.ColumnIDs[name])
		out[i] = conflicts.Column{Column: name, Lost: refs[i], LostClock: lc, WonDeleted: true}
	}
	t := &target{Tracked: fk.child}
	return m.record(t, key, rules.KindOrphan, out, false)
}

func identList(names []string) string { return strings.Join(quoted(names), ", ") }

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = schema.Ident(n)
	}
	return out
}
