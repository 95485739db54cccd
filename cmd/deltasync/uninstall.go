package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/deltasync/deltasync/internal/sqlitefile"
	"github.com/deltasync/deltasync/triggers"
)

// UninstallCommand removes everything deltasync added.
type UninstallCommand struct{ m *Main }

func (c *UninstallCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("uninstall", flag.ContinueOnError)
	busy := fs.Duration("busy-timeout", sqlitefile.DefaultBusyTimeout, "how long to wait for another writer's lock")
	pos, err := c.m.parse(fs, args, 1, "DB")
	if err != nil {
		return err
	}
	db, err := sqlitefile.Open(ctx, pos[0], sqlitefile.Options{BusyTimeout: *busy})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := triggers.Uninstall(ctx, db); err != nil {
		return sqlitefile.Explain(pos[0], err)
	}
	fmt.Fprintf(c.m.Stdout, "removed deltasync from %s\n", pos[0])
	return nil
}
