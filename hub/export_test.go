package hub

import (
	"net/url"

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

// ReplicaMaxLength is SQLITE_LIMIT_LENGTH on replica connections.
var ReplicaMaxLength = replicaMaxLength
