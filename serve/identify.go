package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/source"
)

// Headers of POST /v1/identify.
const (
	// timeoutHeader (or the timeout query parameter) is the caller's deadline
	// for the whole call, retries included: a Go duration ("10s") or seconds.
	timeoutHeader = "X-Segloop-Timeout"
	// idempotencyHeader names the call: the same key and userId give the
	// same messageId, so a caller that retries a call is deduplicated.
	idempotencyHeader = "Idempotency-Key"
)

// identifyAnswer is the body of POST /v1/identify's answers.
type identifyAnswer struct {
	Success   bool   `json:"success"`
	MessageID string `json:"messageId,omitempty"`
	Status    string `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
}

// identify is POST /v1/identify: the Identify action as one call, through
// the destination's limiter (its own fair share) and the loop's retries,
// within the caller's deadline. 200 once Segment accepted the event, 422
// for invalid input (nothing sent), 502 when Segment refused it or the
// retries ran out.
func (s *Server) identify(w http.ResponseWriter, r *http.Request) {
	deadline, e := callDeadline(r)
	if e != nil {
		writeError(w, e)
		return
	}
	key, _, e := s.writeKey(r)
	if e != nil {
		writeError(w, e)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxIdentifyBody))
	if err != nil {
		writeError(w, bodyError("body", err))
		return
	}
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil || fields == nil {
		if err == nil {
			err = errors.New("want a JSON object")
		}
		writeError(w, badRequest(`body: want a JSON object {"userId", "email", "name", "traits"}: %v`, err))
		return
	}
	if dec.More() {
		writeError(w, badRequest("body: unexpected data after the JSON object"))
		return
	}
	dest, id := s.cfg.destination(key)
	client, err := s.exec.clientFor(id, key)
	if err != nil {
		writeError(w, internal(err))
		return
	}
	dq, err := s.shares.get(dest)
	if err != nil {
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: codeShuttingDown, Message: "the rate limiter cannot be reached: " + err.Error()})
		return
	}
	runKey := strings.TrimSpace(r.Header.Get(idempotencyHeader))
	if runKey == "" {
		runKey = segloop.NewRunKey()
	}
	ctx, cancel := context.WithTimeout(r.Context(), deadline)
	defer cancel()
	var res segloop.Result
	_, runErr := segloop.Run(ctx, segloop.Config{
		Source:       &oneRecord{rec: source.Record{Line: 1, Fields: fields, Raw: data}},
		RunKey:       runKey,
		Client:       countingSender{c: client, m: s.metrics},
		BatchSize:    1,
		Concurrency:  1,
		MaxAttempts:  s.cfg.MaxAttempts,
		Limiter:      dq.identify,
		DrainTimeout: time.Second,
		OnResult:     func(r segloop.Result) { res = r },
	})
	s.metrics.identify.WithLabelValues(string(res.Status)).Inc()
	switch res.Status {
	case loop.StatusOK:
		writeJSON(w, http.StatusOK, identifyAnswer{Success: true, MessageID: res.MessageID})
	case loop.StatusInvalid:
		writeJSON(w, http.StatusUnprocessableEntity, identifyAnswer{Status: "invalid", Error: res.Err.Error()})
	default:
		msg := "not sent"
		switch {
		case res.Err != nil:
			msg = res.Err.Error()
		case runErr != nil:
			msg = runErr.Error()
		}
		writeJSON(w, http.StatusBadGateway, identifyAnswer{Status: "failed", MessageID: res.MessageID, Error: msg})
	}
}

// callDeadline reads the caller's deadline: the timeout query parameter or
// the X-Segloop-Timeout header, a Go duration or seconds; default
// DefaultCallDeadline, at most MaxCallDeadline.
func callDeadline(r *http.Request) (time.Duration, *apiError) {
	v := r.URL.Query().Get("timeout")
	if v == "" {
		v = r.Header.Get(timeoutHeader)
	}
	if v == "" {
		return DefaultCallDeadline, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, serr := strconv.ParseFloat(v, 64)
		if serr != nil {
			return 0, badRequest("timeout: want a duration such as 10s, or seconds, got %q", v)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d <= 0 || d > MaxCallDeadline {
		return 0, badRequest("timeout: want more than 0 and at most %v, got %q", MaxCallDeadline, v)
	}
	return d, nil
}

// oneRecord is a source.Reader of one record.
type oneRecord struct {
	rec  source.Record
	done bool
}

func (o *oneRecord) Next() (source.Record, error) {
	if o.done {
		return source.Record{}, io.EOF
	}
	o.done = true
	return o.rec, nil
}
