package hub

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mattn/go-sqlite3"

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
	// ErrBadRequest: a request parameter the hub cannot read.
	ErrBadRequest = errors.New("bad request")
	// ErrSiteTaken: a push for a device site that another token pushed first.
	ErrSiteTaken = errors.New("the device site belongs to another token")
	// ErrTooManyWaits: the token already holds as many long-polls as the
	// hub allows one token.
	ErrTooManyWaits = errors.New("too many long-polls for this token")
	// ErrTooManyPushes: the token already has as many pushes in flight as
	// the hub allows one token.
	ErrTooManyPushes = errors.New("too many pushes at once for this token")
	// ErrTooSlow: a client sent its push, or read its pull, more slowly
	// than the hub's minimum rate, and was cut.
	ErrTooSlow = errors.New("the transfer fell below the hub's minimum rate")
	// ErrInternal: the hub failed; the details are in its log only.
	ErrInternal = errors.New("internal error")
)

// statuses maps each kind of error to its HTTP status and to the code the
// hub names it by in its JSON error: the one place that decides them.
// Client maps the codes, or failing them the statuses, back. The first
// row an error matches decides.
var statuses = []struct {
	err    error
	status int
	code   string
}{
	{ErrUnauthorized, http.StatusUnauthorized, "unauthorized"},
	{ErrForbidden, http.StatusForbidden, "forbidden"},
	{ErrSiteTaken, http.StatusForbidden, "site-taken"},
	{ErrBadName, http.StatusBadRequest, "bad-name"},
	{ErrBadRequest, http.StatusBadRequest, "bad-request"},
	{ErrBadSchema, http.StatusUnprocessableEntity, "bad-schema"},
	{ErrBusy, http.StatusServiceUnavailable, "busy"}, // and ErrSchemaBusy, which is an ErrBusy
	{ErrTooManyWaits, http.StatusTooManyRequests, "too-many-waits"},
	{ErrTooManyPushes, http.StatusTooManyRequests, "too-many-pushes"},
	{ErrTooSlow, http.StatusRequestTimeout, "too-slow"},
	{ErrNoSchema, http.StatusNotFound, "no-schema"},
	{replicator.ErrSchemaMismatch, http.StatusConflict, "schema-mismatch"},
	{replicator.ErrUnknownTable, http.StatusUnprocessableEntity, "unknown-table"},
	{replicator.ErrUnknownColumn, http.StatusUnprocessableEntity, "unknown-column"},
	{replicator.ErrClockSkew, http.StatusUnprocessableEntity, "clock-skew"},
	{replicator.ErrUnique, http.StatusUnprocessableEntity, "unique"},
	{replicator.ErrNotice, http.StatusUnprocessableEntity, "notice"}, // before ErrInvalidBatch, which wraps it (see within)
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
	{ErrInternal, http.StatusInternalServerError, "internal"},
}

// within names, for a sentinel that the hub returns only wrapped in
// another, that other: a push with a loss notice is an invalid batch. The
// client's error wraps both, as the hub's does.
var within = map[error]error{replicator.ErrNotice: replicator.ErrInvalidBatch}

// statusOf returns the status and code of err, after clientError; an error
// the table does not name is the hub's own failure, a 500.
func statusOf(err error) (status int, code string) {
	for _, s := range statuses {
		if errors.Is(err, s.err) {
			return s.status, s.code
		}
	}
	return http.StatusInternalServerError, "internal"
}

// clientError turns the errors that a client's request causes but that do
// not yet carry a sentinel into ones that do: an oversized body, and a row
// that breaks a NOT NULL, CHECK or STRICT type constraint of the replica's
// table, which SQLite reports only by its extended code. The merge maps
// most of these itself; this is the fallback, so that a client mistake is
// never a 500. SQLite's own message is not passed on.
func clientError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return fmt.Errorf("%w: the limit is %d bytes", ErrTooLarge, tooLarge.Limit)
	}
	var se sqlite3.Error
	if errors.As(err, &se) && !errors.Is(err, replicator.ErrConstraint) {
		if kind := constraintKind(se.ExtendedCode); kind != "" {
			return fmt.Errorf("%w: a %s constraint failed%s; correct the row on the device, then sync again",
				replicator.ErrConstraint, kind, constraintTarget(se))
		}
	}
	return err
}

// sqliteConstraintDatatype is SQLITE_CONSTRAINT_DATATYPE, a STRICT table's
// type check, which go-sqlite3 names no constant for.
var sqliteConstraintDatatype = sqlite3.ErrConstraint.Extend(12)

func constraintKind(code sqlite3.ErrNoExtended) string {
	switch code {
	case sqlite3.ErrConstraintNotNull:
		return "NOT NULL"
	case sqlite3.ErrConstraintCheck:
		return "CHECK"
	case sqliteConstraintDatatype:
		return "STRICT column type"
	}
	return ""
}

// constraintTarget is what SQLite's message names after the failure, such
// as " on notes.body" or " on qty > 0": the client's own schema, nothing of
// the hub's. A message of another shape gives nothing.
func constraintTarget(se sqlite3.Error) string {
	msg := se.Error()
	_, target, ok := strings.Cut(msg, "constraint failed: ")
	if !ok {
		_, target, ok = strings.Cut(msg, " column ") // cannot store TEXT value in INTEGER column t.c
	}
	if !ok || target == "" || len(target) > 200 || strings.ContainsAny(target, "/\\\n") {
		return ""
	}
	return " on " + target
}
