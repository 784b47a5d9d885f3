package segment

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxRetryAfter caps every Retry-After this package reports: a server asking
// for a longer pause gets this one.
const MaxRetryAfter = 300 * time.Second

// ParseRetryAfter parses a Retry-After header value: either non-negative
// delay-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"),
// which is measured from now. It reports false for an empty or unparsable
// value. A date in the past gives 0, true; every result is capped at
// MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) && strings.Trim(v, "0123456789") == "" {
				return MaxRetryAfter, true
			}
			return 0, false
		}
		if secs >= uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		return 0, true
	}
	return min(d, MaxRetryAfter), true
}

// Verdict is what a caller should do about the outcome of one request.
// The zero Verdict is the verdict on success (a nil error); with a non-nil
// error it means "failed for good, do not retry".
type Verdict struct {
	// Retry: the same request may succeed later; back off and send it again.
	Retry bool
	// RetryAfter: the server's requested pause (429 with Retry-After only),
	// capped at MaxRetryAfter; 0 means "use your own backoff".
	RetryAfter time.Duration
	// Throttled: the server rate-limited the request (429); every sender to
	// this workspace should slow down, not only this one.
	Throttled bool
	// Fatal: the write key was refused (401/403); every further request will
	// fail the same way, so the whole run should stop.
	Fatal bool
	// Endpoint: a permanent refusal that speaks about the endpoint, not about
	// the events (404, 405, 3xx, 501, 505, 511, a TLS certificate that fails
	// verification, a server that does not speak TLS): splitting the batch
	// cannot help, and if every request is refused this way the endpoint is
	// wrong. Retry is false.
	Endpoint bool
	// Immediate, with Retry: the request failed on a stale connection (see
	// RequestError.Stale), which says nothing about the server's load, so the
	// first such failure of a request may be retried at once instead of after
	// a backoff.
	Immediate bool
}

// Classify turns the error of one Client call into a Verdict, following the
// retry table of Segment's SDKs:
//
//   - nil: success, the zero Verdict.
//   - 429: Retry and Throttled, with RetryAfter when the server sent one.
//   - 408, 410, 460, and 5xx except 501, 505 and 511: Retry.
//   - 401 and 403: permanent and Fatal.
//   - 404, 405, 3xx, 501, 505 and 511: permanent, Endpoint.
//   - every other status (400, 413, 422, other 4xx, 1xx): permanent.
//   - context.Canceled anywhere in the chain: permanent (the caller stopped).
//   - a TLS certificate that fails verification (unknown authority, wrong
//     host name, expired, ...) or an answer that is not TLS: permanent,
//     Endpoint (retrying cannot fix a certificate).
//   - network errors, connection resets, unexpected EOFs and timeouts
//     (including a per-request context.DeadlineExceeded): Retry; a
//     *RequestError that is Stale also Immediate.
//   - a *ValidationError and any other error: permanent.
func Classify(err error) Verdict {
	if err == nil {
		return Verdict{}
	}
	var se *StatusError
	if errors.As(err, &se) {
		return classifyStatus(se)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrInvalid) {
		return Verdict{}
	}
	if IsTLSError(err) {
		return Verdict{Endpoint: true}
	}
	if isNetworkError(err) {
		var re *RequestError
		return Verdict{Retry: true, Immediate: errors.As(err, &re) && re.Stale}
	}
	return Verdict{}
}

func classifyStatus(se *StatusError) Verdict {
	code := se.Code
	switch {
	case code == http.StatusTooManyRequests:
		return Verdict{Retry: true, Throttled: true, RetryAfter: min(max(se.RetryAfter, 0), MaxRetryAfter)}
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return Verdict{Fatal: true}
	case code == http.StatusRequestTimeout || code == http.StatusGone || code == 460:
		return Verdict{Retry: true}
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed || code >= 300 && code <= 399 ||
		code == http.StatusNotImplemented || code == http.StatusHTTPVersionNotSupported ||
		code == http.StatusNetworkAuthenticationRequired:
		return Verdict{Endpoint: true}
	case code >= 500 && code <= 599:
		return Verdict{Retry: true}
	}
	return Verdict{}
}

// IsTLSError reports whether err is a TLS failure that says the endpoint
// cannot be trusted or does not speak TLS: a certificate that fails
// verification (its error, e.g. "x509: certificate signed by unknown
// authority", names the problem), or a first record that is not TLS.
func IsTLSError(err error) bool {
	var (
		cv  *tls.CertificateVerificationError
		rh  tls.RecordHeaderError
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		ci  x509.CertificateInvalidError
		sr  x509.SystemRootsError
		cve x509.ConstraintViolationError
	)
	return errors.As(err, &cv) || errors.As(err, &rh) || errors.As(err, &ua) || errors.As(err, &hn) ||
		errors.As(err, &ci) || errors.As(err, &sr) || errors.As(err, &cve)
}

// isNetworkError reports whether err is a transport failure worth retrying.
func isNetworkError(err error) bool {
	var re *RequestError
	if errors.As(err, &re) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}
