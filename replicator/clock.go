package replicator

import (
	"bytes"

	"github.com/deltasync/deltasync/change"
)

// Clock is the (HLC, site) pair of a write.
type Clock struct {
	HLC  change.HLC
	Site change.SiteID
}

// Newer reports whether c orders after o.
func (c Clock) Newer(o Clock) bool {
	if c.HLC != o.HLC {
		return c.HLC > o.HLC
	}
	return bytes.Compare(c.Site[:], o.Site[:]) > 0
}
