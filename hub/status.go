package hub

import (
	"errors"
	"net/http"

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

// statuses maps each kind of error to its HTTP status and to the code the
// hub names it by in its JSON error: the one place that decides them.
// Client maps the codes, or failing them the statuses, back.
var statuses = []struct {
	err    error
	status int
	code   string
}{
	{ErrUnauthorized, http.StatusUnauthorized, "unauthorized"},
	{ErrForbidden, http.StatusForbidden, "forbidden"},
	{ErrBadName, http.StatusBadRequest, "bad-name"},
	{ErrBadSchema, http.StatusUnprocessableEntity, "bad-schema"},
	{ErrBusy, http.StatusServiceUnavailable, "busy"},
	{replicator.ErrNoSchema, http.StatusNotFound, "no-schema"},
	{replicator.ErrSchemaMismatch, http.StatusConflict, "schema-mismatch"},
	{replicator.ErrUnknownTable, http.StatusUnprocessableEntity, "unknown-table"},
	{replicator.ErrUnknownColumn, http.StatusUnprocessableEntity, "unknown-column"},
	{replicator.ErrClockSkew, http.StatusUnprocessableEntity, "clock-skew"},
	{replicator.ErrUnique, http.StatusUnprocessableEntity, "unique"},
	{replicator.ErrInvalidBatch, http.StatusUnprocessableEntity, "invalid-batch"},
	{replicator.ErrConstraint, http.StatusUnprocessableEntity, "constraint"},
	{replicator.ErrRowTooLarge, http.StatusRequestEntityTooLarge, "row-too-large"},
	{ErrTooLarge, http.StatusRequestEntityTooLarge, "body-too-large"},
	{codec.ErrTooLarge, http.StatusRequestEntityTooLarge, "frame-too-large"},
	{codec.ErrBadMagic, http.StatusBadRequest, "frame-magic"},
	{codec.ErrVersion, http.StatusBadRequest, "frame-version"},
	{codec.ErrChecksum, http.StatusBadRequest, "frame-checksum"},
	{codec.ErrTruncated, http.StatusBadRequest, "frame-truncated"},
	{codec.ErrCorrupt, http.StatusBadRequest, "frame-corrupt"},
}

func statusOf(err error) (status int, code string) {
	if errors.As(err, new(badRequest)) {
		return http.StatusBadRequest, ""
	}
	for _, s := range statuses {
		if errors.Is(err, s.err) {
			return s.status, s.code
		}
	}
	return http.StatusInternalServerError, ""
}

// errorOf is the sentinel a client returns for the hub's code, or, from a
// hub that gave none, for the status; nil if none.
func errorOf(status int, code string) error {
	for _, s := range statuses {
		if code != "" && s.code == code {
			return s.err
		}
	}
	switch status {
	case http.StatusNotFound:
		return replicator.ErrNoSchema
	case http.StatusConflict:
		return replicator.ErrSchemaMismatch
	}
	for _, s := range statuses {
		if s.status == status {
			return s.err
		}
	}
	return nil
}
