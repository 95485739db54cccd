package replicator

// Role is the side a node merges a batch on. It is decided once, where a
// merge starts: every rule below it asks the role, never a peer's name.
type Role uint8

const (
	// RoleHub: the hub merging a device's push, which carries that
	// device's own writes, judged in the order they arrive. A merge that
	// does not come from this node's hub is judged the same way.
	RoleHub Role = iota
	// RoleDevice: a device merging what its hub serves: every site's
	// writes, in the hub's order, and loss notices.
	RoleDevice
)

func (r Role) String() string {
	if r == RoleDevice {
		return "device"
	}
	return "hub"
}

// roleOf is the role of a merge of what peer sent: a device merges its
// hub's batches, under the peer name its cursors are kept by.
func roleOf(peer string) Role {
	if peer == hubPeer {
		return RoleDevice
	}
	return RoleHub
}
