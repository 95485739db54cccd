package change

import "fmt"

// SiteID names a node, the origin of the changes it writes: 16 random
// bytes made at install.
type SiteID [16]byte

func (s SiteID) String() string { return fmt.Sprintf("%x", s[:]) }
