package device

import (
	"context"

	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/replicator"
)

// Hub is what a device needs from the hub it syncs with. hub.Client
// implements it over HTTP and hub.Local in process; hub/hubtest is the
// contract every implementation passes.
type Hub interface {
	// Schema returns the schema the hub holds for db, or hub.ErrNoSchema.
	Schema(ctx context.Context, db string) (*replicator.SchemaDoc, error)
	// PutSchema gives the hub the schema of a database it does not know yet.
	PutSchema(ctx context.Context, db string, doc *replicator.SchemaDoc) error
	// Push sends one encoded batch; it returns once the hub merged it durably.
	Push(ctx context.Context, db string, frame []byte) (hub.PushResult, error)
	// Pull returns an encoded batch of what the hub has after req.Since,
	// waiting up to req.Wait for something new.
	Pull(ctx context.Context, db string, req hub.PullRequest) ([]byte, error)
}

var (
	_ Hub = (*hub.Client)(nil)
	_ Hub = hub.Local{}
)
