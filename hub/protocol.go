package hub

import (
	"errors"
	"time"

	"github.com/deltasync/deltasync/change"
)

// The messages of the hub protocol, as Client and Local take and return
// them; the device package's Hub interface is written in them.

// ErrNoSchema: the hub has never seen the database name.
var ErrNoSchema = errors.New("the hub does not know this database")

// PullRequest asks for a hub's changes after a version.
type PullRequest struct {
	Since change.Version
	Limit int
	Wait  time.Duration
	Site  change.SiteID // the asking device: its own changes are left out
}

// PushResult is the hub's acknowledgement of a push.
type PushResult struct {
	Version change.Version `json:"version"` // the hub's last version after the merge
}
