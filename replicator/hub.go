package replicator

import (
	"context"
	"errors"
	"time"

	"github.com/deltasync/deltasync/changelog"
)

// Hub is what a device needs from the hub it syncs with. hub.Client
// implements it over HTTP; tests implement it in process.
type Hub interface {
	// Schema returns the schema the hub holds for db, or ErrNoSchema.
	Schema(ctx context.Context, db string) (*SchemaDoc, error)
	// PutSchema gives the hub the schema of a database it does not know yet.
	PutSchema(ctx context.Context, db string, doc *SchemaDoc) error
	// Push sends one encoded batch; it returns once the hub merged it durably.
	Push(ctx context.Context, db string, frame []byte) (PushResult, error)
	// Pull returns an encoded batch of what the hub has after req.Since,
	// waiting up to req.Wait for something new.
	Pull(ctx context.Context, db string, req PullRequest) ([]byte, error)
}

// ErrNoSchema: the hub has never seen the database name.
var ErrNoSchema = errors.New("the hub does not know this database")

// SchemaDoc is a database's schema as the first device gives it to the hub:
// the DDL of the tracked tables and their indexes, and the merge policy of
// every table whose policy is not the default.
type SchemaDoc struct {
	Fingerprint string                      `json:"fingerprint"` // hex
	Statements  []string                    `json:"statements"`
	Policies    map[string]changelog.Policy `json:"policies,omitempty"`
}

// PullRequest asks for a hub's changes after a version.
type PullRequest struct {
	Since uint64
	Limit int
	Wait  time.Duration
	Site  changelog.SiteID // the asking device: its own changes are left out
}

// PushResult is the hub's acknowledgement of a push.
type PushResult struct {
	Version uint64 `json:"version"` // the hub's last version after the merge
}
