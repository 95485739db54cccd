package device_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/replicator"
)

// says is an error that knows whether it is permanent, as hub.HubError does.
type says struct {
	permanent bool
	err       error
}

func (e says) Error() string   { return "says" }
func (e says) Unwrap() error   { return e.err }
func (e says) Permanent() bool { return e.permanent }

func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("connection reset"), false},
		{fmt.Errorf("pull: %w", replicator.ErrStale), false},
		{fmt.Errorf("sync: %w", context.Canceled), false},
		{fmt.Errorf("sync: %w", replicator.ErrSchemaMismatch), true},
		{fmt.Errorf("merge hub versions 1-2: %w", replicator.ErrUnique), true},
		{fmt.Errorf("merge: %w", replicator.ErrClockSkew), true},
		{fmt.Errorf("push: %w", says{true, nil}), true},
		// The error that says decides, whatever it wraps: a hub's 404
		// "no such database" wraps ErrNoSchema, a 5xx nothing.
		{fmt.Errorf("push: %w", says{false, replicator.ErrUnique}), false},
	} {
		if got := device.Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
