package change

import "time"

// HLC is a hybrid logical clock: wall-clock milliseconds in the high 48
// bits and a counter in the low 16. 0 is older than every write: the
// baseline of rows that existed before install.
type HLC uint64

// HLCAt is the smallest HLC of a write at t; 0 for a time at or before the
// epoch, which is how the baseline is written.
func HLCAt(t time.Time) HLC {
	ms := t.UnixMilli()
	if ms <= 0 {
		return 0
	}
	return HLC(ms) << 16
}

// Time is the wall-clock part of h.
func (h HLC) Time() time.Time {
	return time.UnixMilli(int64(h >> 16)).UTC()
}
