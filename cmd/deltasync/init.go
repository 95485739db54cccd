package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/deltasync/deltasync/internal/sqlitefile"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// InitCommand installs change capture.
type InitCommand struct{ m *Main }

func (c *InitCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	var only, exclude listFlag
	fs.Var(&only, "only", "track only these tables (comma-separated; repeatable)")
	fs.Var(&exclude, "exclude", "do not track these tables (comma-separated; repeatable)")
	busy := fs.Duration("busy-timeout", sqlitefile.DefaultBusyTimeout, "how long to wait for another writer's lock")
	pos, err := c.m.parse(fs, args, 1, "DB")
	if err != nil {
		return err
	}
	path := pos[0]
	db, err := sqlitefile.Open(ctx, path, sqlitefile.Options{BusyTimeout: *busy})
	if err != nil {
		return err
	}
	defer db.Close()
	f := schema.Filter{Only: only, Exclude: exclude}
	if len(only) == 0 && len(exclude) == 0 {
		// Without flags, keep the selection of the last init.
		if f, err = triggers.StoredFilter(ctx, db); err != nil {
			return sqlitefile.Explain(path, err)
		}
	}
	rep, err := triggers.Install(ctx, db, f)
	if err != nil {
		return sqlitefile.Explain(path, err)
	}
	c.print(rep)
	return nil
}

func (c *InitCommand) print(rep *triggers.Report) {
	w := c.m.Stdout
	for _, t := range rep.Tracked {
		fmt.Fprintf(w, "tracked  %s  keyed by %s (%s); %s\n", t.Name, strings.Join(t.Key, ", "), t.KeyKind, changed(t))
		for _, warn := range t.Warnings() {
			fmt.Fprintf(c.m.Stderr, "warning  %s: %s\n", t.Name, warn)
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "skipped  %s: %s\n", s.Name, s.Reason)
	}
}

func changed(t triggers.TableResult) string {
	switch {
	case t.Created == 0 && t.Dropped == 0:
		return "unchanged"
	case t.Dropped == 0:
		return fmt.Sprintf("%d triggers installed", t.Created)
	}
	return fmt.Sprintf("%d triggers replaced", t.Created)
}
