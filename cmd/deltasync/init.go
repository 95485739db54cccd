package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/internal/sqlitefile"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// InitCommand installs change capture.
type InitCommand struct{ m *Main }

func (c *InitCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	var only, exclude listFlag
	policies := policyFlag{}
	fs.Var(&only, "only", "track only these tables (comma-separated; repeatable)")
	fs.Var(&exclude, "exclude", "do not track these tables (comma-separated; repeatable)")
	fs.Var(policies, "policy", "TABLE=POLICY: merge TABLE with lww-column (default), lww-row or manual (repeatable)")
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
	before := changelog.StoredPolicies(ctx, db)
	// Without --policy, nil keeps every table's stored policy.
	var set map[string]changelog.Policy
	if len(policies) > 0 {
		set = policies
	}
	rep, err := triggers.InstallWithPolicies(ctx, db, f, set)
	if err != nil {
		return sqlitefile.Explain(path, inFlagWords(err))
	}
	tracked, err := changelog.New(db).Tracked(ctx, db)
	if err != nil {
		return sqlitefile.Explain(path, err)
	}
	c.print(rep, tracked, before)
	return nil
}

// inFlagWords says a table filter's error in the words of init's flags.
func inFlagWords(err error) error {
	var unknown *schema.UnknownTableError
	var untrackable *schema.UntrackableTableError
	switch {
	case errors.As(err, &unknown):
		return &flagError{fmt.Sprintf("--%s names table %q, which the database does not have", unknown.List, unknown.Name), err}
	case errors.As(err, &untrackable):
		return &flagError{fmt.Sprintf("--only names table %q, which cannot be tracked: %s", untrackable.Name, untrackable.Reason), err}
	}
	return err
}

// flagError is a library's error said in the words of a command's flags.
type flagError struct {
	msg string
	err error
}

func (e *flagError) Error() string { return e.msg }
func (e *flagError) Unwrap() error { return e.err }

func (c *InitCommand) print(rep *triggers.Report, tracked map[string]changelog.Tracked, before map[string]changelog.Policy) {
	w := c.m.Stdout
	for _, t := range rep.Tracked {
		pol := tracked[t.Name].Policy
		if pol == "" {
			pol = changelog.LWWColumn
		}
		was := ""
		if old, ok := before[t.Name]; ok && old != pol {
			was = fmt.Sprintf(" (was %s)", old)
		}
		fmt.Fprintf(w, "tracked  %s  keyed by %s (%s); %s; policy %s%s\n", t.Name, strings.Join(t.Key, ", "), t.KeyKind, changed(t), pol, was)
		for _, warn := range t.Warnings() {
			fmt.Fprintf(c.m.Stderr, "warning  %s: %s\n", t.Name, warn)
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "skipped  %s: %s\n", s.Name, s.Reason)
	}
	c.printAppTriggers(rep.AppTriggers)
}

// printAppTriggers says, per trigger of the app's own, whether it runs
// again when changes from other devices are applied.
func (c *InitCommand) printAppTriggers(apps []triggers.AppTrigger) {
	for _, a := range apps {
		what := "guarded: does not run again for changes from other devices"
		if !a.Guarded {
			what = "runs for changes from other devices too"
			if len(a.Writes) > 0 {
				what += ", to maintain " + strings.Join(a.Writes, ", ") + " (not synced)"
			}
		}
		state := "unchanged"
		if a.Changed {
			state = "rewritten"
		}
		fmt.Fprintf(c.m.Stdout, "trigger  %s on %s: %s; %s\n", a.Name, a.Table, what, state)
		if a.Warning != "" {
			fmt.Fprintf(c.m.Stderr, "warning  trigger %s: %s\n", a.Name, a.Warning)
		}
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

// policyFlag collects --policy TABLE=POLICY, checking each as it is given.
type policyFlag map[string]changelog.Policy

func (p policyFlag) String() string {
	var s []string
	for t, pol := range p {
		s = append(s, t+"="+string(pol))
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func (p policyFlag) Set(s string) error {
	table, name, ok := strings.Cut(s, "=")
	table = strings.TrimSpace(table)
	if !ok || table == "" {
		return fmt.Errorf("want TABLE=POLICY, such as --policy notes=lww-row")
	}
	pol, err := changelog.ParsePolicy(strings.TrimSpace(name))
	if err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	if old, dup := p[table]; dup && old != pol {
		return fmt.Errorf("two policies for table %s: give one", table)
	}
	p[table] = pol
	return nil
}
