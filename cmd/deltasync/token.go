package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/deltasync/deltasync/hub"
)

// TokenCommand makes a bearer token for a hub.
type TokenCommand struct{ m *Main }

func (c *TokenCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	var dbs listFlag
	fs.Var(&dbs, "db", "database names the token may sync (comma-separated; default: all)")
	if _, err := c.m.parse(fs, args, 0, ""); err != nil {
		return err
	}
	if len(dbs) == 0 {
		dbs = listFlag{"*"}
	}
	token, line, err := hub.NewToken(dbs)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "token (give it to devices: --token or DELTASYNC_TOKEN): %s\n", token)
	fmt.Fprintf(c.m.Stdout, "line for the hub's tokens file (the hub keeps only this hash):\n%s\n", line)
	return nil
}
