package benchmarks_test

import (
	"testing"

	"github.com/jmoiron/sqlx"
)

// appTriggersDDL are an app's own triggers that keep updated_at, as
// Sakila's keep last_update: each write fires one, which updates the row
// again.
const appTriggersDDL = `
CREATE TRIGGER items_touch_ai AFTER INSERT ON items BEGIN
  UPDATE items SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE rowid = new.rowid;
END;
CREATE TRIGGER items_touch_au AFTER UPDATE ON items BEGIN
  UPDATE items SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE rowid = new.rowid;
END;`

// BenchmarkAppTrigger measures what init's guard on an app's trigger
// (changelog.NotApplying in its WHEN clause) costs the app's writes that
// fire it. Variants, against plain SQLite with the app's triggers:
//
//   - unguarded: deltasync installed before the app's triggers were
//     created, so they are as the app wrote them: the triggers as they were
//     before init guarded them.
//   - guarded: the app's triggers created first, then deltasync installed,
//     which guards them.
//
// guarded-x-plain / unguarded-x-plain is what the guard adds. Deletes fire
// no app trigger and are left out.
func BenchmarkAppTrigger(b *testing.B) {
	withApp := func(tb testing.TB, db *sqlx.DB) { mustExec(tb, db, appTriggersDDL) }
	plainApp := variant{name: "plain", install: withApp}
	unguarded := variant{name: "unguarded", log: "_sync_changelog", perWrite: 2, install: func(tb testing.TB, db *sqlx.DB) {
		installDeltasync(tb, db)
		withApp(tb, db)
	}}
	guarded := variant{name: "guarded", log: "_sync_changelog", perWrite: 2, install: func(tb testing.TB, db *sqlx.DB) {
		withApp(tb, db)
		installDeltasync(tb, db)
	}}
	for _, m := range []mode{prepared1000, prepared1, exec1000} {
		b.Run(m.name, func(b *testing.B) {
			for _, o := range []op{insertOp, updateOp} {
				b.Run(o.name, func(b *testing.B) {
					compare(b, []variant{plainApp, unguarded, guarded}, m, o)
				})
			}
		})
	}
}

func mustExec(tb testing.TB, db *sqlx.DB, sql string) {
	tb.Helper()
	if _, err := db.Exec(sql); err != nil {
		tb.Fatal(err)
	}
}
