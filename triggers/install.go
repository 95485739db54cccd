package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/migrations"
	"github.com/deltasync/deltasync/schema"
)

// TableResult is what Install did for one tracked table.
type TableResult struct {
	schema.Table
	Created, Dropped int // triggers created and dropped; both 0 when nothing changed
}

// Report is what Install found and did.
type Report struct {
	Tracked     []TableResult
	Skipped     []schema.Skipped
	AppTriggers []AppTrigger // the app's own triggers, in the order they were created
}

// Install installs change capture on the tables f selects: it creates
// deltasync's internal tables if needed, then, in one transaction, registers
// each table and brings its triggers to what Generate returns, dropping the
// triggers of tables no longer selected. The app's own triggers that write
// tracked tables get a guard, so that they do not fire when a batch is
// applied (see the package doc). Running it again with the same
// schema and filter changes nothing. f is stored, so that StoredFilter can
// give it back to a later run.
func Install(ctx context.Context, db *sqlx.DB, f schema.Filter) (*Report, error) {
	return InstallWithPolicies(ctx, db, f, nil)
}

// InstallWithPolicies is Install that also sets the merge policy of some of
// the tracked tables, in the same transaction. Tables it does not name keep
// the policy they have (lww-column for a new one).
func InstallWithPolicies(ctx context.Context, db *sqlx.DB, f schema.Filter, policies map[string]changelog.Policy) (*Report, error) {
	// Read first: a bad filter or policy must fail before anything is written.
	first, err := schema.Read(ctx, db, f)
	if err != nil {
		return nil, err
	}
	if err := CheckPolicies(first, policies); err != nil {
		return nil, err
	}
	if err := migrations.Up(ctx, db.DB); err != nil {
		return nil, err
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin install: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	// Read again inside the transaction: the schema cannot change under us now.
	s, err := schema.Read(ctx, tx, f)
	if err != nil {
		return nil, err
	}
	rep := &Report{Skipped: withoutOwnTables(s.Skipped)}
	existing, err := installedTriggers(ctx, tx)
	if err != nil {
		return nil, err
	}
	// The app's triggers first: a table whose app triggers are created
	// again gets its capture triggers created again after them (renewed).
	apps, renewed, err := guardAppTriggers(ctx, tx, s.Tables)
	if err != nil {
		return nil, err
	}
	rep.AppTriggers = apps
	keep := map[string]bool{}
	for _, t := range s.Tables {
		res, err := installTable(ctx, tx, t, existing, keep, renewed[asciiLower(t.Name)])
		if err != nil {
			return nil, err
		}
		rep.Tracked = append(rep.Tracked, res)
	}
	for name := range existing {
		if !keep[name] {
			if err := dropTrigger(ctx, tx, name); err != nil {
				return nil, err
			}
		}
	}
	if err := storeFilter(ctx, tx, f); err != nil {
		return nil, err
	}
	for name, p := range policies {
		if err := changelog.SetPolicy(ctx, tx, name, p); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit install: %w", err)
	}
	return rep, nil
}

// CheckPolicies checks that every policy is valid and names a table s
// tracks, as InstallWithPolicies does before it writes anything.
func CheckPolicies(s *schema.Schema, policies map[string]changelog.Policy) error {
	for name, p := range policies {
		if _, err := changelog.ParsePolicy(string(p)); err != nil {
			return fmt.Errorf("policy of %s: %w", schema.Ident(name), err)
		}
		if _, ok := s.Table(name); !ok {
			return fmt.Errorf("policy of %s: the table is not tracked; name a table that init tracks", schema.Ident(name))
		}
	}
	return nil
}

// withoutOwnTables leaves deltasync's own tables out of what a user is told was skipped.
func withoutOwnTables(skipped []schema.Skipped) []schema.Skipped {
	var out []schema.Skipped
	for _, s := range skipped {
		if !slices.Contains(migrations.Tables, s.Name) {
			out = append(out, s)
		}
	}
	return out
}

// installTable brings t's capture triggers to what Generate returns; renew
// creates them all again even where they are current.
func installTable(ctx context.Context, tx *sqlx.Tx, t schema.Table, existing map[string]string, keep map[string]bool, renew bool) (TableResult, error) {
	res := TableResult{Table: t}
	reg, err := changelog.Register(ctx, tx, t)
	if err != nil {
		return res, err
	}
	want := Generate(t, reg)
	prefix := namePrefix(reg.TableID)
	wanted := map[string]bool{}
	for _, tr := range want {
		wanted[tr.Name] = true
	}
	// Drop this table's triggers that are gone or differ, before creating.
	stale := func(name, text string) bool {
		return strings.HasPrefix(name, prefix) && (renew || !wanted[name] || sqlOf(want, name) != text)
	}
	changing := false
	for name, text := range existing {
		changing = changing || stale(name, text)
	}
	for _, tr := range want {
		_, ok := existing[tr.Name]
		changing = changing || !ok
	}
	for name, text := range existing {
		// The key trigger must be the newest of the table's triggers, so
		// that it fires first (see Generate): recreate it whenever any
		// other trigger of the table is created.
		if !stale(name, text) && !(changing && name == prefix+"key") {
			continue
		}
		if err := dropTrigger(ctx, tx, name); err != nil {
			return res, err
		}
		delete(existing, name)
		res.Dropped++
	}
	for _, tr := range want {
		keep[tr.Name] = true
		if _, ok := existing[tr.Name]; ok {
			continue
		}
		if _, err := tx.ExecContext(ctx, tr.SQL); err != nil {
			return res, fmt.Errorf("create trigger %s on %s: %w", tr.Name, schema.Ident(t.Name), err)
		}
		res.Created++
	}
	return res, nil
}

func sqlOf(ts []Trigger, name string) string {
	for _, t := range ts {
		if t.Name == name {
			return t.SQL
		}
	}
	return ""
}

// ownTriggers is a GLOB pattern that the names of deltasync's triggers
// match (namePrefix), and no app trigger's.
var ownTriggers = schema.InternalPrefix + "[0-9]*_*"

// installedTriggers returns deltasync's triggers in the database by name.
func installedTriggers(ctx context.Context, q sqlx.QueryerContext) (map[string]string, error) {
	rows, err := q.QueryxContext(ctx, `SELECT name, sql FROM sqlite_schema
		WHERE type = 'trigger' AND name GLOB ?`, ownTriggers)
	if err != nil {
		return nil, fmt.Errorf("read installed triggers: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, text string
		if err := rows.Scan(&name, &text); err != nil {
			return nil, err
		}
		out[name] = text
	}
	return out, rows.Err()
}

func dropTrigger(ctx context.Context, tx *sqlx.Tx, name string) error {
	if _, err := tx.ExecContext(ctx, `DROP TRIGGER IF EXISTS `+schema.Ident(name)); err != nil {
		return fmt.Errorf("drop trigger %s: %w", name, err)
	}
	return nil
}

// Uninstall removes every trigger and table deltasync added, in one
// transaction, and gives the app's triggers that Install guarded back the
// text the app wrote, byte for byte. App tables and their data are not
// touched. Uninstalling a database without deltasync does nothing.
func Uninstall(ctx context.Context, db *sqlx.DB) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin uninstall: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	// Before the tables go: a guard reads _sync_applying.
	if err := restoreAppTriggers(ctx, tx); err != nil {
		return err
	}
	existing, err := installedTriggers(ctx, tx)
	if err != nil {
		return err
	}
	for name := range existing {
		if err := dropTrigger(ctx, tx, name); err != nil {
			return err
		}
	}
	for _, t := range migrations.Tables {
		if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+schema.Ident(t)); err != nil {
			return fmt.Errorf("drop %s: %w", t, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit uninstall: %w", err)
	}
	return nil
}

// storeFilter keeps f in _sync_state, writing only what differs.
func storeFilter(ctx context.Context, tx *sqlx.Tx, f schema.Filter) error {
	for key, names := range map[changelog.StateKey][]string{changelog.StateOnly: f.Only, changelog.StateExclude: f.Exclude} {
		b, err := json.Marshal(names)
		if err != nil {
			return err
		}
		if err := changelog.SetState(ctx, tx, key, string(b)); err != nil {
			return fmt.Errorf("store table selection: %w", err)
		}
	}
	return nil
}

// StoredFilter returns the filter the last Install stored, or an empty
// filter (every table) if deltasync is not installed.
func StoredFilter(ctx context.Context, db sqlx.QueryerContext) (schema.Filter, error) {
	var f schema.Filter
	ok, err := changelog.Installed(ctx, db)
	if err != nil || !ok {
		return f, err
	}
	for key, dst := range map[changelog.StateKey]*[]string{changelog.StateOnly: &f.Only, changelog.StateExclude: &f.Exclude} {
		var s string
		ok, err := changelog.GetState(ctx, db, key, &s)
		if err == nil && !ok {
			continue
		}
		if err != nil {
			return f, fmt.Errorf("read table selection: %w", err)
		}
		if err := json.Unmarshal([]byte(s), dst); err != nil {
			return f, fmt.Errorf("read table selection: %w", err)
		}
	}
	return f, nil
}
