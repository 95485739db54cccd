package triggers

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/schema"
)

// AppTrigger is what Install decided for one of the app's own triggers.
type AppTrigger struct {
	Name, Table string   // the trigger and the table it is on
	Writes      []string // the tables its body writes, as it names them
	// Guarded: the trigger does not fire while deltasync applies a batch
	// (it writes a tracked table, or nothing: see the package doc).
	// Otherwise it fires on replay too, and keeps the untracked tables it
	// writes up to date with the changes this node receives.
	Guarded bool
	Changed bool   // Install rewrote the trigger in this run
	Warning string // what the user should know about the decision, or ""
}

// appTrigger is an app trigger as sqlite_schema holds it, in creation order.
type appTrigger struct {
	Name  string `db:"name"`
	Table string `db:"tbl_name"`
	SQL   string `db:"sql"`
}

// keptTrigger is a row of _sync_app_triggers: the app's text of a trigger
// Install guarded, and the text it installed instead.
type keptTrigger struct {
	Name    string `db:"name"`
	AppSQL  string `db:"app_sql"`
	Guarded string `db:"guarded"`
}

// appPlan is what Install wants an app trigger to be.
type appPlan struct {
	appTrigger
	appSQL string // the app's own text, before any guard
	want   string // the text it should have
	report AppTrigger
}

// guardAppTriggers brings every app trigger to what the package doc says:
// guarded when it writes a tracked table (or nothing), as the app wrote it
// otherwise. It keeps the app's text of each guarded trigger in
// _sync_app_triggers, and returns the tables whose app triggers it
// re-created: their capture triggers must be created again after them,
// to stay the newest (see Generate).
func guardAppTriggers(ctx context.Context, tx *sqlx.Tx, tracked []schema.Table) ([]AppTrigger, map[string]bool, error) {
	current, err := readAppTriggers(ctx, tx)
	if err != nil {
		return nil, nil, err
	}
	kept, err := readKept(ctx, tx)
	if err != nil {
		return nil, nil, err
	}
	isTracked := map[string]bool{}
	for _, t := range tracked {
		isTracked[asciiLower(t.Name)] = true
	}
	plans := make([]appPlan, len(current))
	for i, a := range current {
		plans[i] = plan(a, kept[a.Name], isTracked)
	}
	renewed, err := rewriteChanged(ctx, tx, current, func(i int) string { return plans[i].want })
	if err != nil {
		return nil, nil, err
	}
	if err := storeKept(ctx, tx, plans, kept); err != nil {
		return nil, nil, err
	}
	out := make([]AppTrigger, len(plans))
	for i, p := range plans {
		out[i] = p.report
		out[i].Changed = p.SQL != p.want
	}
	return out, renewed, nil
}

// plan decides what app trigger a should be. Its text is the app's own
// unless it is what Install put there (k.Guarded): a trigger the app
// changed since is the app's text again, and is guarded anew.
func plan(a appTrigger, k keptTrigger, tracked map[string]bool) appPlan {
	p := appPlan{appTrigger: a, appSQL: a.SQL, want: a.SQL}
	if k.Name != "" && k.Guarded == a.SQL {
		p.appSQL = k.AppSQL
	}
	p.want = p.appSQL
	p.report = AppTrigger{Name: a.Name, Table: a.Table}
	parsed, err := parseTrigger(p.appSQL)
	if err != nil {
		p.report.Warning = fmt.Sprintf("left as it is, so it fires again when changes from other devices are applied: %v", err)
		return p
	}
	p.report.Writes = parsed.writes
	var untracked []string
	p.report.Guarded = len(parsed.writes) == 0
	for _, w := range parsed.writes {
		if tracked[asciiLower(w)] {
			p.report.Guarded = true
		} else {
			untracked = append(untracked, w)
		}
	}
	if p.report.Guarded {
		p.want = parsed.guarded()
	}
	if p.report.Guarded && len(untracked) > 0 {
		p.report.Warning = fmt.Sprintf("it writes tracked tables and also %s, not tracked: guarded, it does not fire when changes "+
			"from other devices are applied, so %[1]s misses them; rebuild it, or split the trigger in two", strings.Join(untracked, ", "))
	}
	return p
}

// rewriteChanged gives every app trigger i the text want(i). A table that
// has a trigger to change gets all its app triggers dropped and created
// again in their order, so that they keep firing in the order they did
// (SQLite runs a table's triggers newest first). It returns those tables,
// by ASCII-folded name.
func rewriteChanged(ctx context.Context, tx *sqlx.Tx, ts []appTrigger, want func(int) string) (map[string]bool, error) {
	renewed := map[string]bool{}
	for i, a := range ts {
		if a.SQL != want(i) {
			renewed[asciiLower(a.Table)] = true
		}
	}
	for _, a := range ts {
		if renewed[asciiLower(a.Table)] {
			if err := dropTrigger(ctx, tx, a.Name); err != nil {
				return nil, err
			}
		}
	}
	for i, a := range ts {
		if !renewed[asciiLower(a.Table)] {
			continue
		}
		if _, err := tx.ExecContext(ctx, want(i)); err != nil {
			return nil, fmt.Errorf("create trigger %s on %s: %w", schema.Ident(a.Name), schema.Ident(a.Table), err)
		}
	}
	return renewed, nil
}

// storeKept makes _sync_app_triggers hold the app's text of every guarded
// trigger, writing only rows that differ, so that an install that changes
// nothing writes nothing.
func storeKept(ctx context.Context, tx *sqlx.Tx, plans []appPlan, kept map[string]keptTrigger) error {
	for _, p := range plans {
		k, had := kept[p.Name]
		delete(kept, p.Name)
		switch {
		case p.want == p.appSQL && had:
			if _, err := tx.ExecContext(ctx, `DELETE FROM _sync_app_triggers WHERE name = ?`, p.Name); err != nil {
				return fmt.Errorf("forget trigger %s: %w", p.Name, err)
			}
		case p.want != p.appSQL && (k.AppSQL != p.appSQL || k.Guarded != p.want):
			_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO _sync_app_triggers (name, app_sql, guarded) VALUES (?, ?, ?)`,
				p.Name, p.appSQL, p.want)
			if err != nil {
				return fmt.Errorf("keep trigger %s: %w", p.Name, err)
			}
		}
	}
	for name := range kept { // dropped by the app since
		if _, err := tx.ExecContext(ctx, `DELETE FROM _sync_app_triggers WHERE name = ?`, name); err != nil {
			return fmt.Errorf("forget trigger %s: %w", name, err)
		}
	}
	return nil
}

// restoreAppTriggers puts back the app's text of every trigger Install
// guarded, byte for byte. A trigger the app changed since is left as the
// app made it.
func restoreAppTriggers(ctx context.Context, tx *sqlx.Tx) error {
	kept, err := readKept(ctx, tx)
	if err != nil || len(kept) == 0 {
		return err
	}
	current, err := readAppTriggers(ctx, tx)
	if err != nil {
		return err
	}
	_, err = rewriteChanged(ctx, tx, current, func(i int) string {
		if k, ok := kept[current[i].Name]; ok && k.Guarded == current[i].SQL {
			return k.AppSQL
		}
		return current[i].SQL
	})
	return err
}

// readAppTriggers returns the app's triggers, in the order they were created.
func readAppTriggers(ctx context.Context, q sqlx.QueryerContext) ([]appTrigger, error) {
	var out []appTrigger
	err := sqlx.SelectContext(ctx, q, &out, `SELECT name, tbl_name, sql FROM sqlite_schema
		WHERE type = 'trigger' AND name NOT GLOB ? ORDER BY rowid`, ownTriggers)
	if err != nil {
		return nil, fmt.Errorf("read the app's triggers: %w", err)
	}
	return out, nil
}

// readKept returns the rows of _sync_app_triggers by name; none if the
// table does not exist (deltasync not installed, or installed before it).
func readKept(ctx context.Context, q sqlx.QueryerContext) (map[string]keptTrigger, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '_sync_app_triggers'`)
	if err != nil || n == 0 {
		return nil, err
	}
	var rows []keptTrigger
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT name, app_sql, guarded FROM _sync_app_triggers`); err != nil {
		return nil, fmt.Errorf("read the app's kept triggers: %w", err)
	}
	out := make(map[string]keptTrigger, len(rows))
	for _, r := range rows {
		out[r.Name] = r
	}
	return out, nil
}
