package replicator

import (
	"bytes"
	"github.com/deltasync/deltasync/change"
	"time"
)

// Clock is the (HLC, site) pair of a write.
type Clock struct {
	HLC  uint64
	Site change.SiteID
}

// Newer reports whether c orders after o.
func (c Clock) Newer(o Clock) bool {
	if c.HLC != o.HLC {
		return c.HLC > o.HLC
	}
	return bytes.Compare(c.Site[:], o.Site[:]) > 0
}

// HLCTime is the wall-clock part of an HLC.
func HLCTime(hlc uint64) time.Time {
	return time.UnixMilli(int64(hlc >> 16)).UTC()
}

// hlcAt is the smallest HLC of a write at t; 0 for the baseline of rows that
// existed before install, which is written with a time before the epoch.
func hlcAt(t time.Time) uint64 {
	ms := t.UnixMilli()
	if ms <= 0 {
		return 0
	}
	return uint64(ms) << 16
}
