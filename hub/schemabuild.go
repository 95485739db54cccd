package hub

import (
	"context"
	"errors"
	"fmt"

	"github.com/deltasync/deltasync/replicator"
	"github.com/deltasync/deltasync/triggers"
)

// ErrSchemaBusy: checking and building a schema took longer than the hub
// allows. That is the hub's load as much as the schema: 503, try again. It
// is an ErrBusy, by errors.Is, because that is what a client sees of it:
// both are "busy" on the wire.
var ErrSchemaBusy error = busyError("the hub is too busy to build the schema now: try again shortly")

// busyError is a kind of ErrBusy with a message of its own.
type busyError string

func (e busyError) Error() string        { return string(e) }
func (e busyError) Is(target error) bool { return target == ErrBusy }

// maxSchemaBuilds is how many schemas the hub checks and builds at once,
// in the whole process: each keeps a CPU busy while it runs, and uploads
// beyond it wait their turn, so that many at once leave CPUs for pushes
// and pulls.
const maxSchemaBuilds = 2

var schemaSlots = make(chan struct{}, maxSchemaBuilds)

// installCapture installs deltasync's tables and triggers on a new
// replica; a test makes it fail.
var installCapture = triggers.InstallWithPolicies

// buildReplica checks doc and builds name's replica from it, within one of
// the schemaSlots and within schemaBuildTimeout.
func (s *Store) buildReplica(ctx context.Context, name string, doc *replicator.SchemaDoc) error {
	release, err := acquireSchemaSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	bctx, cancel := context.WithTimeout(ctx, schemaBuildTimeout)
	defer cancel()
	err = checkDoc(bctx, doc)
	if err == nil {
		err = s.buildFile(bctx, name, doc)
	}
	return buildError(ctx, bctx, err)
}

// acquireSchemaSlot waits for one of the schemaSlots, or for ctx.
func acquireSchemaSlot(ctx context.Context) (release func(), err error) {
	select {
	case schemaSlots <- struct{}{}:
		return func() { <-schemaSlots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// buildError is err, the failure of a build under bctx, as the client
// should see it. What the schema did wrong stays as it is; a build cut
// short is the client's leaving when ctx, the request's, is done, and
// otherwise the time limit: ErrSchemaBusy, whatever SQLite or the
// migrations said when interrupted.
func buildError(ctx, bctx context.Context, err error) error {
	switch {
	case err == nil || bctx.Err() == nil,
		errors.Is(err, ErrBadSchema), errors.Is(err, replicator.ErrSchemaMismatch):
		return err
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fmt.Errorf("%w (it took longer than %s)", ErrSchemaBusy, schemaBuildTimeout)
}
