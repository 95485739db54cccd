package hub_test

import (
	"testing"

	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/hub/hubtest"
)

// TestContract runs the Hub contract against both implementations: the
// in-process hub on a Store, and the client over HTTP to a server on
// 127.0.0.1, served as `deltasync hub` serves it.
func TestContract(t *testing.T) {
	t.Run("Local", func(t *testing.T) {
		hubtest.Run(t, func(t *testing.T) device.Hub {
			l := newLocal(t)
			return waiting{l, l.Store}
		})
	})
	t.Run("HTTP", func(t *testing.T) {
		hubtest.Run(t, func(t *testing.T) device.Hub {
			h := startHub(t, nil, nil)
			return waiting{h.client(""), h.Store}
		})
	})
}

// waiting is a hub that tells the suite when a long-poll waits
// (hubtest.Waiter), from the store behind it.
type waiting struct {
	device.Hub
	store *hub.Store
}

func (w waiting) Waiting(db string) int { return w.store.Waiting(db) }
