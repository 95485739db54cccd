package dbdiff

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/schema"
)

// Report lists how two databases differ; it is empty when they hold the same rows.
type Report struct {
	Differences []string
}

// Equal reports whether no difference was found.
func (r *Report) Equal() bool { return len(r.Differences) == 0 }

func (r *Report) String() string { return strings.Join(r.Differences, "\n") }

// Compare compares every table deltasync can track in either database: the
// same tables, and in each the same rows with the same values.
func Compare(ctx context.Context, a, b *sqlx.DB) (*Report, error) {
	sa, err := schema.Read(ctx, a, schema.Filter{})
	if err != nil {
		return nil, err
	}
	sb, err := schema.Read(ctx, b, schema.Filter{})
	if err != nil {
		return nil, err
	}
	r := &Report{}
	for _, ta := range sa.Tables {
		tb, ok := sb.Table(ta.Name)
		if !ok {
			r.add("table %s: only in the first database", schema.Ident(ta.Name))
			continue
		}
		if err := r.compareTable(ctx, a, b, ta, tb); err != nil {
			return nil, err
		}
	}
	for _, tb := range sb.Tables {
		if _, ok := sa.Table(tb.Name); !ok {
			r.add("table %s: only in the second database", schema.Ident(tb.Name))
		}
	}
	return r, nil
}

func (r *Report) add(format string, args ...any) {
	r.Differences = append(r.Differences, fmt.Sprintf(format, args...))
}

func (r *Report) compareTable(ctx context.Context, a, b *sqlx.DB, ta, tb schema.Table) error {
	ra, err := Rows(ctx, a, ta)
	if err != nil {
		return err
	}
	rb, err := Rows(ctx, b, tb)
	if err != nil {
		return err
	}
	keys := map[string]bool{}
	for k := range ra {
		keys[k] = true
	}
	for k := range rb {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	shown := 0
	for _, k := range sorted {
		va, inA := ra[k]
		vb, inB := rb[k]
		if inA && inB && va == vb {
			continue
		}
		if shown++; shown > 10 {
			r.add("table %s: more rows differ", schema.Ident(ta.Name))
			break
		}
		switch {
		case !inB:
			r.add("table %s key %s: only in the first database: %s", schema.Ident(ta.Name), k, va)
		case !inA:
			r.add("table %s key %s: only in the second database: %s", schema.Ident(ta.Name), k, vb)
		default:
			r.add("table %s key %s: %s vs %s", schema.Ident(ta.Name), k, va, vb)
		}
	}
	return nil
}

// Rows returns the rows of t by key, each with its writable columns printed
// exactly, in column-name order so that column order does not matter.
func Rows(ctx context.Context, db *sqlx.DB, t schema.Table) (map[string]string, error) {
	cols := t.Writable()
	sort.Slice(cols, func(i, j int) bool { return cols[i].Name < cols[j].Name })
	sel := make([]string, 0, len(t.Key)+len(cols))
	for _, k := range t.Key {
		sel = append(sel, "+"+schema.Ident(k))
	}
	for _, c := range cols {
		sel = append(sel, "+"+schema.Ident(c.Name))
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM %s`, strings.Join(sel, ", "), schema.Ident(t.Name)))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", schema.Ident(t.Name), err)
	}
	defer rows.Close()
	out := map[string]string{}
	vals := make([]any, len(sel))
	ptrs := make([]any, len(sel))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var key, row []string
		for i, v := range vals {
			if i < len(t.Key) {
				key = append(key, change.Literal(v))
				continue
			}
			row = append(row, cols[i-len(t.Key)].Name+"="+change.Literal(v))
		}
		out["("+strings.Join(key, ", ")+")"] = strings.Join(row, " ")
	}
	return out, rows.Err()
}
