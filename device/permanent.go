package device

import (
	"context"
	"errors"

	"github.com/deltasync/deltasync/replicator"
)

// refusals are the errors of the replicator that the same sync repeated
// cannot cure: a schema that differs, a batch this node or the hub refuses.
var refusals = []error{
	replicator.ErrSchemaMismatch, replicator.ErrUnknownTable, replicator.ErrUnknownColumn, replicator.ErrClockSkew, replicator.ErrNotice,
	replicator.ErrUnique, replicator.ErrInvalidBatch, replicator.ErrConstraint, replicator.ErrRowTooLarge,
	replicator.ErrMissingFeature,
}

// Permanent reports whether err is a failure that sending the same requests
// again cannot cure, so that Run retries it only every RefusedRetry rather
// than backing off from 100 ms: the hub refused the request (an error in
// the chain with a Permanent() bool method says so, as hub.HubError does
// for auth, schema, size and refusal answers), or this node refused what
// the hub sent. Network errors, timeouts, 5xx answers and the end of ctx
// are not permanent.
func Permanent(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var p interface{ Permanent() bool }
	if errors.As(err, &p) {
		return p.Permanent()
	}
	for _, r := range refusals {
		if errors.Is(err, r) {
			return true
		}
	}
	return false
}
