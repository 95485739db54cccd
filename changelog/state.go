package changelog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// StateKey names a value of _sync_state, a node's small key-value record.
// Every key is declared here, with the package that writes it, so that one
// list says what the table holds.
type StateKey string

const (
	StateSiteID      StateKey = "site_id"       // migrations: this node's site id, 16 bytes
	StateHLC         StateKey = "hlc"           // replicator: the node's hybrid logical clock
	StateClocked     StateKey = "clocked"       // replicator: the last local version given a clock
	StateOnly        StateKey = "only"          // triggers: Filter.Only of the last install, JSON
	StateExclude     StateKey = "exclude"       // triggers: Filter.Exclude of the last install, JSON
	StateLastError   StateKey = "last_error"    // device: the error of the last sync, if it failed
	StateLastErrorAt StateKey = "last_error_at" // device: when it failed, Unix milliseconds
	StateHubSchema   StateKey = "hub_schema"    // hub: the schema a replica was built from, JSON
)

// GetState reads key into dest, and reports whether the key is set.
func GetState(ctx context.Context, q sqlx.QueryerContext, key StateKey, dest any) (bool, error) {
	err := sqlx.GetContext(ctx, q, dest, `SELECT value FROM _sync_state WHERE key = ?`, key)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", key, err)
	}
	return true, nil
}

// ReadState is GetState of a key that must be set: an unset key is an
// error, ErrNoState.
func ReadState(ctx context.Context, q sqlx.QueryerContext, key StateKey, dest any) error {
	ok, err := GetState(ctx, q, key, dest)
	if err == nil && !ok {
		err = fmt.Errorf("read %s: %w", key, ErrNoState)
	}
	return err
}

// ErrNoState: a key of _sync_state that deltasync always sets is missing.
var ErrNoState = errors.New("missing from _sync_state")

// SetState sets key to value, writing nothing if it holds value already.
func SetState(ctx context.Context, e sqlx.ExecerContext, key StateKey, value any) error {
	_, err := e.ExecContext(ctx, `INSERT INTO _sync_state (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE value IS NOT excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("set %s: %w", key, err)
	}
	return nil
}

// DeleteState unsets keys.
func DeleteState(ctx context.Context, e sqlx.ExecerContext, keys ...StateKey) error {
	for _, key := range keys {
		if _, err := e.ExecContext(ctx, `DELETE FROM _sync_state WHERE key = ?`, key); err != nil {
			return fmt.Errorf("unset %s: %w", key, err)
		}
	}
	return nil
}
