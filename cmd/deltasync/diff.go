package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/deltasync/deltasync/internal/dbdiff"
	"github.com/deltasync/deltasync/internal/sqlitefile"
)

// DiffCommand compares the app tables of two databases.
type DiffCommand struct{ m *Main }

func (c *DiffCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	pos, err := c.m.parse(fs, args, 2, "A.db B.db")
	if err != nil {
		return err
	}
	a, err := sqlitefile.Open(ctx, pos[0], sqlitefile.Options{ReadOnly: true})
	if err != nil {
		return exitError{2, err.Error()}
	}
	defer a.Close()
	b, err := sqlitefile.Open(ctx, pos[1], sqlitefile.Options{ReadOnly: true})
	if err != nil {
		return exitError{2, err.Error()}
	}
	defer b.Close()
	rep, err := dbdiff.Compare(ctx, a, b)
	if err != nil {
		return exitError{2, err.Error()}
	}
	if rep.Equal() {
		fmt.Fprintf(c.m.Stdout, "%s and %s hold the same rows\n", pos[0], pos[1])
		return nil
	}
	fmt.Fprintf(c.m.Stdout, "%s and %s differ:\n%s\n", pos[0], pos[1], rep)
	return exitError{code: 1}
}
