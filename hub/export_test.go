package hub

import (
	"context"
	"net/url"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/schema"
	"github.com/deltasync/deltasync/triggers"
)

// ParsePullQuery is the server's parser of a pull's query string, for the
// tests and the fuzz target of package hub_test.
func ParsePullQuery(s *Server, rawQuery string) (PullRequest, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return PullRequest{}, err
	}
	return s.pullRequest(q)
}

// SetSlack sets the grace every transfer time begins with (30 s), so that
// a test sees a stalled client cut in seconds.
func SetSlack(s *Server, d time.Duration) { s.testSlack = d }

// ReplicaMaxLength is SQLITE_LIMIT_LENGTH on replica connections.
var ReplicaMaxLength = replicaMaxLength

// SetSchemaBuildTimeout sets the time limit of checking and building a
// schema; the function it returns puts the old one back.
func SetSchemaBuildTimeout(d time.Duration) (restore func()) {
	old := schemaBuildTimeout
	schemaBuildTimeout = d
	return func() { schemaBuildTimeout = old }
}

// FailInstall makes installing capture on a new replica fail with err;
// the function it returns undoes it.
func FailInstall(err error) (restore func()) {
	old := installCapture
	installCapture = func(context.Context, *sqlx.DB, schema.Filter, map[string]changelog.Policy) (*triggers.Report, error) {
		return nil, err
	}
	return func() { installCapture = old }
}
