package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr}
	err := m.Run(ctx, os.Args[1:])
	if err == nil {
		return
	}
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the usage went to stdout
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "deltasync: "+msg)
		}
		os.Exit(coded.ExitCode())
	}
	fmt.Fprintln(os.Stderr, "deltasync: "+err.Error())
	os.Exit(1)
}

// Main is the whole command line, callable from tests.
type Main struct {
	Stdout, Stderr io.Writer
}

// command is one subcommand.
type command interface {
	Run(ctx context.Context, args []string) error
}

const usage = `deltasync syncs an app's existing SQLite database between devices.

Usage:
  deltasync init app.db [--only t1,t2] [--exclude t3] [--policy TABLE=lww-column|lww-row|manual]...
                                                        install change capture (idempotent)
  deltasync status app.db [--json]                      site id, tables, pending changes, last version, conflicts
  deltasync changes app.db [--since V] [--limit N] [--json]
                                                        print captured changes with exact values
  deltasync uninstall app.db                            remove everything deltasync added
  deltasync hub --listen 127.0.0.1:7070 --data ./hubdata [--tokens tokens.txt] [--tls-cert c --tls-key k]
                                                        serve databases to devices
  deltasync sync app.db --hub http://127.0.0.1:7070 [--name tasks] [--token T] [--once]
                                                        sync with a hub (a sidecar, unless --once)
  deltasync conflicts app.db [--table T] [--json]       list writes that lost to a concurrent write, both sides
  deltasync conflicts resolve app.db ID --keep local|remote|value=JSON
                                                        settle one: a local write that syncs like any other
  deltasync conflicts clear app.db [--before TIME]      delete recorded conflicts (TIME: RFC 3339 or YYYY-MM-DD)
  deltasync diff a.db b.db                              exit 0 if the app tables hold the same rows
  deltasync token [--db tasks,notes]                    make a hub token and its tokens.txt line

Run 'deltasync COMMAND -h' for a command's flags.
`

// Run runs the subcommand args[0] with the rest of args.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return usageError{"no command given"}
	}
	var cmd command
	switch args[0] {
	case "init":
		cmd = &InitCommand{m: m}
	case "status":
		cmd = &StatusCommand{m: m}
	case "changes":
		cmd = &ChangesCommand{m: m}
	case "uninstall":
		cmd = &UninstallCommand{m: m}
	case "hub":
		cmd = &HubCommand{m: m}
	case "sync":
		cmd = &SyncCommand{m: m}
	case "conflicts":
		cmd = &ConflictsCommand{m: m}
	case "diff":
		cmd = &DiffCommand{m: m}
	case "token":
		cmd = &TokenCommand{m: m}
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	default:
		fmt.Fprint(m.Stderr, usage)
		return usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
	return cmd.Run(ctx, args[1:])
}

// usageError is a mistake in the command line; main exits 2 for it.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }
func (usageError) ExitCode() int   { return 2 }

// exitError ends the command with a status other than 1, after printing msg (if any).
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
func (e exitError) ExitCode() int { return e.code }

// parse parses flags wherever they are among args, as users write
// `deltasync init app.db --only t`, and returns the positional arguments.
func (m *Main) parse(fs *flag.FlagSet, args []string, wantPositional int, what string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(m.Stdout, "usage: deltasync %s %s [flags]\n", fs.Name(), what)
				fs.SetOutput(m.Stdout)
				fs.PrintDefaults()
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) != wantPositional {
		return nil, usageError{fmt.Sprintf("usage: deltasync %s %s [flags] (got %d arguments)", fs.Name(), what, len(pos))}
	}
	return pos, nil
}

// listFlag collects comma-separated names, from one or several uses of a flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); name != "" {
			*l = append(*l, name)
		}
	}
	return nil
}
