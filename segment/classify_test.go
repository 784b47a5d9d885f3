package segment_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segloop/segloop/segment"
)

func TestClassify(t *testing.T) {
	status := func(code int) error { return &segment.StatusError{Code: code} }
	retry := segment.Verdict{Retry: true}
	permanent := segment.Verdict{}
	endpoint := segment.Verdict{Endpoint: true}
	tests := []struct {
		name string
		err  error
		want segment.Verdict
	}{
		{"nil is success", nil, segment.Verdict{}},
		{"429 with Retry-After", &segment.StatusError{Code: 429, RetryAfter: 2 * time.Second},
			segment.Verdict{Retry: true, Throttled: true, RetryAfter: 2 * time.Second}},
		{"429 over cap", &segment.StatusError{Code: 429, RetryAfter: time.Hour},
			segment.Verdict{Retry: true, Throttled: true, RetryAfter: segment.MaxRetryAfter}},
		{"429 without Retry-After", status(429), segment.Verdict{Retry: true, Throttled: true}},
		{"408", status(408), retry},
		{"410", status(410), retry},
		{"460", status(460), retry},
		{"500", status(500), retry},
		{"502", status(502), retry},
		{"503", status(503), retry},
		{"504", status(504), retry},
		{"599", status(599), retry},
		{"501", status(501), endpoint},
		{"505", status(505), endpoint},
		{"511", status(511), endpoint},
		{"400", status(400), permanent},
		{"401 fatal", status(401), segment.Verdict{Fatal: true}},
		{"403 fatal", status(403), segment.Verdict{Fatal: true}},
		{"404", status(404), endpoint},
		{"405", status(405), endpoint},
		{"413", status(413), permanent},
		{"422", status(422), permanent},
		{"418 other 4xx", status(418), permanent},
		{"301", status(301), endpoint},
		{"307", status(307), endpoint},
		{"wrapped status", fmt.Errorf("item 3: %w", status(503)), retry},
		{"request error", &segment.RequestError{Path: "/v1/batch", Err: errors.New("dial tcp: refused")}, retry},
		{"per-request timeout", &segment.RequestError{Path: "/v1/batch", Err: context.DeadlineExceeded}, retry},
		{"canceled", &segment.RequestError{Path: "/v1/batch", Err: context.Canceled}, permanent},
		{"bare canceled", context.Canceled, permanent},
		{"connection reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, retry},
		{"unexpected EOF", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), retry},
		{"unknown authority", &segment.RequestError{Path: "/v1/batch", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}, endpoint},
		{"wrong host name", &segment.RequestError{Path: "/v1/batch", Err: x509.HostnameError{Host: "api.segment.io"}}, endpoint},
		{"expired", &segment.RequestError{Path: "/v1/batch", Err: x509.CertificateInvalidError{Reason: x509.Expired}}, endpoint},
		{"not TLS", &segment.RequestError{Path: "/v1/batch", Err: tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}}, endpoint},
		{"validation", &segment.ValidationError{Field: "email", Msg: "bad"}, permanent},
		{"unknown", errors.New("something else"), permanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := segment.Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %+v, want %+v", tt.err, got, tt.want)
			}
		})
	}
}

func TestStatusErrorIs(t *testing.T) {
	tests := []struct {
		code                      int
		rateLimited, unauthorized bool
	}{
		{429, true, false}, {401, false, true}, {403, false, true}, {400, false, false}, {500, false, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			err := fmt.Errorf("wrapped: %w", &segment.StatusError{Code: tt.code})
			if got := errors.Is(err, segment.ErrRateLimited); got != tt.rateLimited {
				t.Errorf("Is(ErrRateLimited) = %v, want %v", got, tt.rateLimited)
			}
			if got := errors.Is(err, segment.ErrUnauthorized); got != tt.unauthorized {
				t.Errorf("Is(ErrUnauthorized) = %v, want %v", got, tt.unauthorized)
			}
		})
	}
	se := &segment.StatusError{Code: 429, RetryAfter: 2 * time.Second, Body: "slow down"}
	if want := "segment: HTTP 429 Too Many Requests (Retry-After 2s): slow down"; se.Error() != want {
		t.Errorf("Error() = %q, want %q", se.Error(), want)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		v      string
		want   time.Duration
		wantOK bool
	}{
		{"seconds", "2", 2 * time.Second, true},
		{"zero", "0", 0, true},
		{"spaces", " 7 ", 7 * time.Second, true},
		{"at cap", "300", segment.MaxRetryAfter, true},
		{"over cap", "301", segment.MaxRetryAfter, true},
		{"huge", "99999999999999999999999", segment.MaxRetryAfter, true},
		{"http date", "Tue, 02 Jan 2024 03:04:35 GMT", 30 * time.Second, true},
		{"http date over cap", "Tue, 02 Jan 2024 05:00:00 GMT", segment.MaxRetryAfter, true},
		{"http date past", "Tue, 02 Jan 2024 03:00:00 GMT", 0, true},
		{"rfc850 date", "Tuesday, 02-Jan-24 03:04:15 GMT", 10 * time.Second, true},
		{"empty", "", 0, false},
		{"negative", "-5", 0, false},
		{"fraction", "1.5", 0, false},
		{"garbage", "soon", 0, false},
		{"digits then junk", "10s", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := segment.ParseRetryAfter(tt.v, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.v, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestClassifySelfSignedEndpoint sends to a real TLS server whose certificate no system
// root signed: the failure is the endpoint's, not retryable, and its error names the
// certificate problem.
func TestClassifySelfSignedEndpoint(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	// A realistic key: the scrubber removes every run of a key's characters from
	// error texts, so a one-letter key would blank letters of the message.
	client, err := segment.NewClient(segment.Config{WriteKey: "wk-0123456789abcdefghijklmnopqrstu", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Batch(context.Background(), [][]byte{[]byte(`{"type":"identify","userId":"u1"}`)}, 0)
	if got := segment.Classify(err); got != (segment.Verdict{Endpoint: true}) || !segment.IsTLSError(err) {
		t.Fatalf("Classify(%v) = %+v, want Endpoint", err, got)
	}
	if !strings.Contains(err.Error(), "x509: certificate signed by unknown authority") {
		t.Errorf("error %q does not name the certificate problem", err)
	}
}
