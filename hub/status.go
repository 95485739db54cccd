package hub

import (
	"errors"
	"net/http"
	"strings"

	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/replicator"
)

var (
	// ErrUnauthorized: no token, or a token the hub does not know.
	ErrUnauthorized = errors.New("missing or unknown bearer token")
	// ErrForbidden: the token is not allowed this database.
	ErrForbidden = errors.New("the token is not allowed this database")
	// ErrTooLarge: the request body is over the hub's limit.
	ErrTooLarge = errors.New("request body too large")
)

// statuses maps each kind of error to its HTTP status: the one place that
// decides it. Client maps the statuses back.
var statuses = []struct {
	err    error
	status int
}{
	{ErrUnauthorized, http.StatusUnauthorized},
	{ErrForbidden, http.StatusForbidden},
	{ErrBadName, http.StatusBadRequest},
	{replicator.ErrNoSchema, http.StatusNotFound},
	{replicator.ErrSchemaMismatch, http.StatusConflict},
	{replicator.ErrUnknownTable, http.StatusUnprocessableEntity},
	{replicator.ErrUnknownColumn, http.StatusUnprocessableEntity},
	{replicator.ErrClockSkew, http.StatusUnprocessableEntity},
	{replicator.ErrUnique, http.StatusUnprocessableEntity},
	{ErrTooLarge, http.StatusRequestEntityTooLarge},
	{codec.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{codec.ErrBadMagic, http.StatusBadRequest},
	{codec.ErrVersion, http.StatusBadRequest},
	{codec.ErrChecksum, http.StatusBadRequest},
	{codec.ErrTruncated, http.StatusBadRequest},
	{codec.ErrCorrupt, http.StatusBadRequest},
}

func statusOf(err error) int {
	if errors.As(err, new(badRequest)) {
		return http.StatusBadRequest
	}
	for _, s := range statuses {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	return http.StatusInternalServerError
}

// errorOf is the sentinel a client returns for a status and the hub's
// message, nil if none. Where several share a status, the message names
// the one the hub meant: errors wrap their sentinel's text.
func errorOf(status int, msg string) error {
	switch status {
	case http.StatusNotFound:
		return replicator.ErrNoSchema
	case http.StatusConflict:
		return replicator.ErrSchemaMismatch
	}
	var first error
	for _, s := range statuses {
		if s.status != status {
			continue
		}
		if strings.Contains(msg, s.err.Error()) {
			return s.err
		}
		if first == nil {
			first = s.err
		}
	}
	return first
}
