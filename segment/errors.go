package segment

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ErrInvalid is matched by errors.Is for every *ValidationError: the input
// item cannot be sent as it is and retrying will not help.
var ErrInvalid = errors.New("segment: invalid identify input")

// ErrRateLimited is matched by errors.Is for a *StatusError with code 429.
var ErrRateLimited = errors.New("segment: rate limited (HTTP 429)")

// ErrUnauthorized is matched by errors.Is for a *StatusError with code 401
// or 403: the write key was refused, so every further request will fail too.
var ErrUnauthorized = errors.New("segment: write key refused (HTTP 401/403)")

// ValidationError describes one input field that Segment would reject or
// silently drop. Field is the wire name of the field ("userId", "email",
// "traits", "timestamp", "messageId", "context", "integrations") or "event"
// for a fault of the serialized event as a whole, such as its size.
type ValidationError struct {
	Field string
	Msg   string
}

// Error returns "field: message", for example
// `email: "x@" is not a valid email address`.
func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// StatusError is the answer of a request that reached Segment and came back
// with a status outside 2xx. RetryAfter is the server's Retry-After header,
// parsed and capped at MaxRetryAfter (0 when absent or unparsable); Body is
// the start of the response body (at most MaxErrorBody bytes) for diagnostics
// only. Callers branch with errors.Is(err, ErrRateLimited) or
// errors.Is(err, ErrUnauthorized), or use Classify.
type StatusError struct {
	Code       int
	RetryAfter time.Duration
	Body       string
}

// Error returns e.g. "segment: HTTP 429 Too Many Requests (Retry-After 2s): slow down".
func (e *StatusError) Error() string {
	b := make([]byte, 0, 64+len(e.Body))
	b = append(b, "segment: HTTP "...)
	b = strconv.AppendInt(b, int64(e.Code), 10)
	if txt := http.StatusText(e.Code); txt != "" {
		b = append(b, ' ')
		b = append(b, txt...)
	}
	if e.RetryAfter > 0 {
		b = append(b, " (Retry-After "...)
		b = append(b, e.RetryAfter.String()...)
		b = append(b, ')')
	}
	if e.Body != "" {
		b = append(b, ": "...)
		b = append(b, e.Body...)
	}
	return string(b)
}

// Is reports whether target is ErrRateLimited (code 429) or ErrUnauthorized
// (code 401 or 403).
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrRateLimited:
		return e.Code == http.StatusTooManyRequests
	case ErrUnauthorized:
		return e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden
	}
	return false
}

// RequestError is a request that got no HTTP answer: the connection failed,
// was reset, or the per-request timeout expired. Err is the underlying error
// (a *url.Error, context.DeadlineExceeded, ...). Classify treats it as
// retryable unless the caller's context was cancelled.
type RequestError struct {
	Path string // "/v1/identify" or "/v1/batch"
	Err  error
	// Stale: the request went out on a kept-alive connection that had carried
	// earlier requests, and that connection failed (reset, closed) before any
	// answer, with no timeout and no cancellation: most often the remote end
	// had already closed it, the stale-connection case that HTTP clients retry
	// at once on another connection (net/http does, for idempotent requests).
	Stale bool
}

// Error returns "segment: POST /v1/batch: <cause>".
func (e *RequestError) Error() string {
	return fmt.Sprintf("segment: POST %s: %v", e.Path, e.Err)
}

// Unwrap returns the underlying error.
func (e *RequestError) Unwrap() error { return e.Err }
