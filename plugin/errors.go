package plugin

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/jackc/pgx/v5/pgconn"
)

// An apiError is an answer with the contract's error envelope
// {"code","message","details"?}.
type apiError struct {
	Status  int            `json:"-"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func badRequest(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "bad_request", Message: msg}
}

// fieldError is a 400 about one field of the request; details.field names it
// for programs, the message for people.
func fieldError(field, msg string) *apiError {
	e := badRequest(field + " " + msg)
	e.Details = map[string]any{"field": field}
	return e
}

// Errors of the store the handlers turn into answers.
var (
	errNamespaceNotFound = &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "namespace not found"}
	errMemoryNotFound    = &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "memory not found in namespace"}
	errNoRoute           = &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no route"}
	errUnauthorized      = &apiError{Status: http.StatusUnauthorized, Code: "forbidden", Message: "missing or wrong bearer token"}
	errInternal          = &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
)

// errEmbeddingUnavailable wraps every failure of the embedding provider.
var errEmbeddingUnavailable = errors.New("embedding provider unavailable")

// toAPIError classifies an error for the client. Validation problems are 4xx
// (the client's circuit breaker ignores them); only the plugin's own trouble is
// 5xx: `unavailable` when retrying later can help, `internal` otherwise.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, errEmbeddingUnavailable) {
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: err.Error()}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "22": // data exception: a value the validation let through
			return badRequest("invalid value: " + pgErr.Message)
		case "08", "53", "57", "40": // connection, resources, shutdown, serialization/deadlock
			return unavailable("database unavailable: " + pgErr.Message)
		}
		return errInternal
	}
	if isConnectionError(err) {
		return unavailable("database unavailable")
	}
	return errInternal
}

func unavailable(msg string) *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: msg}
}

// isConnectionError tells whether err means the database could not be reached
// or the connection broke: worth a 503 and a fresh pool.
func isConnectionError(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}
