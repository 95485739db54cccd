package change

import "bytes"

// Clock is the (HLC, site) pair of a write: each column carries the clock
// of its last write. Clocks order by HLC; the site id breaks ties.
type Clock struct {
	HLC  HLC
	Site SiteID
}

// Newer reports whether c orders after o.
func (c Clock) Newer(o Clock) bool {
	if c.HLC != o.HLC {
		return c.HLC > o.HLC
	}
	return bytes.Compare(c.Site[:], o.Site[:]) > 0
}
