package change

import "fmt"

// Op is what a change did to its row.
type Op uint8

const (
	Insert Op = 1
	Update Op = 2
	Delete Op = 3
	// Lost is a notice from the hub to a device that one of the device's
	// own writes lost a conflict on the hub. It travels only in batches
	// (codec), never in a changelog: it has the shape of an update, with
	// the losing write's row clock and the losing values with their
	// clocks, and no columns when the write that lost was a delete.
	Lost Op = 4
)

// String returns the op's name, for errors and logs.
func (o Op) String() string {
	switch o {
	case Insert:
		return "insert"
	case Update:
		return "update"
	case Delete:
		return "delete"
	case Lost:
		return "lost"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}
