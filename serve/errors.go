package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// apiError is an answer of the API that is not a success: its HTTP status
// and the body {"error": {"code": ..., "message": ...}}. Messages name the
// problem (the field, the item, the value) and never hold a write key or
// the token.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// Error codes of the API.
const (
	codeBadRequest       = "bad_request"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeNotFound         = "not_found"
	codeMethod           = "method_not_allowed"
	codeConflict         = "conflict"
	codeTooLarge         = "body_too_large"
	codeMediaType        = "unsupported_media_type"
	codeShuttingDown     = "shutting_down"
	codeInternal         = "internal"
	codeNoWriteKey       = "no_write_key"
	codeNothingToRetry   = "nothing_to_retry"
	codeDiffUnavailable  = "diff_unavailable"
	codeDifferentKey     = "different_write_key"
	codeAlreadyFinished  = "already_finished"
	codeRunNotFinished   = "run_not_finished"
	codeUnknownParameter = "unknown_parameter"
)

func badRequest(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: codeBadRequest, Message: fmt.Sprintf(format, args...)}
}

func notFound(id string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: fmt.Sprintf("no run %q", id)}
}

func internal(err error) *apiError {
	return &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: err.Error()}
}

// bodyError turns an error reading a request body into its answer: 413 for
// a body over the limit, else 400 naming what was being read.
func bodyError(what string, err error) *apiError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge,
			Message: fmt.Sprintf("request body over the limit of %d bytes", mbe.Limit)}
	}
	return badRequest("%s: %v", what, err)
}

// writeError answers e.
func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{Error: struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{e.Code, e.Message}})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding the answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
