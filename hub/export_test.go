package hub

import (
	"net/url"
	"time"

	"github.com/deltasync/deltasync/replicator"
)

// ParsePullQuery is the server's parser of a pull's query string, for the
// tests and the fuzz target of package hub_test.
func ParsePullQuery(s *Server, rawQuery string) (replicator.PullRequest, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return replicator.PullRequest{}, err
	}
	return s.pullRequest(q)
}

// SetSlack sets the grace every transfer time begins with (30 s), so that
// a test sees a stalled client cut in seconds.
func SetSlack(s *Server, d time.Duration) { s.testSlack = d }
