package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/internal/sqlitefile"
	"github.com/deltasync/deltasync/schema"
)

// ChangesCommand prints captured local changes.
type ChangesCommand struct{ m *Main }

type jsonChange struct {
	Version change.Version   `json:"version"`
	Table   string           `json:"table"`
	Op      string           `json:"op"`
	Key     []map[string]any `json:"key"`
	Columns []string         `json:"columns"`
	Values  []map[string]any `json:"values"`
	At      string           `json:"at"`
}

func (c *ChangesCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("changes", flag.ContinueOnError)
	since := fs.Int64("since", 0, "print changes after this version")
	limit := fs.Int("limit", 0, "read at most this many changelog rows (0: all)")
	asJSON := fs.Bool("json", false, "print JSON, values tagged with their storage class")
	pos, err := c.m.parse(fs, args, 1, "DB")
	if err != nil {
		return err
	}
	if *since < 0 || *limit < 0 {
		return usageError{"changes: --since and --limit must not be negative"}
	}
	db, err := sqlitefile.Open(ctx, pos[0], sqlitefile.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	b, err := changelog.New(db).Read(ctx, change.Version(*since), *limit)
	if err != nil {
		return sqlitefile.Explain(pos[0], err)
	}
	if *asJSON {
		return c.printJSON(b)
	}
	for _, ch := range b.Changes {
		fmt.Fprintln(c.m.Stdout, formatChange(ch))
	}
	fmt.Fprintf(c.m.Stdout, "# %d changes in versions %d to %d\n", len(b.Changes), b.Since+1, b.Through)
	return nil
}

// formatChange prints one change on one line:
// 12 2026-11-24T17:05:01.123Z update "notes" key (7) set "title" = 'hi'
func formatChange(ch changelog.Change) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d %s %s %s key (", ch.Version, ch.At.Format(time.RFC3339Nano), ch.Op, schema.Ident(ch.Table))
	for i, k := range ch.Key {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(change.Literal(k))
	}
	sb.WriteString(")")
	for i, col := range ch.Columns {
		sep := ", "
		if i == 0 {
			sep = " set "
		}
		fmt.Fprintf(&sb, "%s%s = %s", sep, schema.Ident(col), change.Literal(ch.Values[i]))
	}
	return sb.String()
}

func (c *ChangesCommand) printJSON(b *changelog.Batch) error {
	out := struct {
		Since   change.Version `json:"since"`
		Through change.Version `json:"through"`
		Changes []jsonChange   `json:"changes"`
	}{Since: b.Since, Through: b.Through, Changes: []jsonChange{}}
	for _, ch := range b.Changes {
		jc := jsonChange{Version: ch.Version, Table: ch.Table, Op: ch.Op.String(),
			Columns: ch.Columns, At: ch.At.Format(time.RFC3339Nano)}
		for _, k := range ch.Key {
			jc.Key = append(jc.Key, jsonValue(k))
		}
		for _, v := range ch.Values {
			jc.Values = append(jc.Values, jsonValue(v))
		}
		out.Changes = append(out.Changes, jc)
	}
	enc := json.NewEncoder(c.m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
