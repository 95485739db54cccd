package sqlitefile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
)

// ErrAppFunction: a statement ran an SQL function the app registers in its
// own connections, which deltasync only stands in for (see StubDriver).
var ErrAppFunction = errors.New("an SQL function only the app has")

// callName is a name called like a function in SQL text.
var callName = regexp.MustCompile(`\b([A-Za-z_][A-Za-z0-9_]*)\s*\(`)

// AppFunctions lists the functions the app's own triggers call that this
// build of SQLite does not have: functions the app registers in its own
// connections (calibre's title_sort and uuid4). SQLite compiles a table's
// triggers into every statement that writes the table, so a connection
// without them cannot write it at all, even when the trigger would not fire.
func AppFunctions(ctx context.Context, db *sqlx.DB) ([]string, error) {
	var bodies []string
	err := db.SelectContext(ctx, &bodies, `SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND sql IS NOT NULL AND name NOT LIKE '\_sync\_%' ESCAPE '\'`)
	if err != nil {
		return nil, fmt.Errorf("read the app's triggers: %w", err)
	}
	var missing []string
	for _, body := range bodies {
		for _, m := range callName.FindAllStringSubmatch(body, -1) {
			name := strings.ToLower(m[1])
			if !slices.Contains(missing, name) && lacks(ctx, db, name) {
				missing = append(missing, name)
			}
		}
	}
	slices.Sort(missing)
	return missing, nil
}

// lacks reports whether SQLite has no function called name: calling it
// with no arguments fails with "no such function" only then (a keyword
// followed by a parenthesis fails otherwise, and is no function).
func lacks(ctx context.Context, db *sqlx.DB, name string) bool {
	_, err := db.ExecContext(ctx, `SELECT `+name+`()`)
	return err != nil && strings.Contains(err.Error(), "no such function: ")
}

var stubDrivers struct {
	sync.Mutex
	byNames map[string]string
}

// StubDriver returns the name of a database/sql driver whose connections
// have a stand-in for each of names, for Options.Driver. A stand-in lets
// SQLite compile the app's triggers that call it; called, it fails with
// ErrAppFunction. deltasync's writes that fire such a trigger are replays,
// under which the app's triggers are guarded and do not fire.
func StubDriver(names []string) string {
	key := strings.Join(names, ",")
	stubDrivers.Lock()
	defer stubDrivers.Unlock()
	if name, ok := stubDrivers.byNames[key]; ok {
		return name
	}
	if stubDrivers.byNames == nil {
		stubDrivers.byNames = map[string]string{}
	}
	name := fmt.Sprintf("sqlite3-deltasync-stubs-%d", len(stubDrivers.byNames))
	sql.Register(name, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		for _, fn := range names {
			if err := c.RegisterFunc(fn, stub(fn), false); err != nil {
				return fmt.Errorf("stand in for the app's function %s: %w", fn, err)
			}
		}
		return nil
	}})
	stubDrivers.byNames[key] = name
	return name
}

func stub(name string) func(args ...any) (any, error) {
	return func(...any) (any, error) {
		return nil, fmt.Errorf("%w: %s; make this write from the app", ErrAppFunction, name)
	}
}
