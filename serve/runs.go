package serve

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/source"
)

// runView is a run as the API shows it (GET /v1/runs/{id}).
type runView struct {
	ID         string          `json:"id"`
	Status     runstore.Status `json:"status"`
	Counts     countsView      `json:"counts"`
	Read       int64           `json:"read"`
	CreatedAt  *time.Time      `json:"createdAt"`
	StartedAt  *time.Time      `json:"startedAt"`
	FinishedAt *time.Time      `json:"finishedAt"`
	Error      *string         `json:"error"`
	RetryOf    string          `json:"retryOf,omitempty"`
	// Workers are the replicas that stored results of the run (GET
	// /v1/runs/{id} only): how many chunks and results each.
	Workers []workerView `json:"workers,omitempty"`
}

type workerView struct {
	Replica string `json:"replica"`
	Chunks  int64  `json:"chunks"`
	Results int64  `json:"results"`
}

type countsView struct {
	OK        int64 `json:"ok"`
	Invalid   int64 `json:"invalid"`
	Failed    int64 `json:"failed"`
	Skipped   int64 `json:"skipped"`
	Unchanged int64 `json:"unchanged"`
}

func viewOf(r runstore.Run) runView {
	t := func(x time.Time) *time.Time {
		if x.IsZero() {
			return nil
		}
		return &x
	}
	v := runView{
		ID: r.ID, Status: r.Status, Read: r.Items, RetryOf: r.RetryOf,
		Counts:    countsView{r.Counts.OK, r.Counts.Invalid, r.Counts.Failed, r.Counts.Skipped, r.Counts.Unchanged},
		CreatedAt: t(r.CreatedAt), StartedAt: t(r.StartedAt), FinishedAt: t(r.FinishedAt),
	}
	if r.Error != "" {
		v.Error = &r.Error
	}
	return v
}

// writeKeyHeader carries a run's or a call's own Segment write key.
const writeKeyHeader = "X-Segment-Write-Key"

// writeKey returns the write key a request sends with: its header's, else
// the server's. own reports a key of the request's own (stored with a run
// until it ends).
func (s *Server) writeKey(r *http.Request) (key string, own bool, e *apiError) {
	key = strings.TrimSpace(r.Header.Get(writeKeyHeader))
	switch {
	case key != "" && key != s.cfg.WriteKey:
		return key, true, nil
	case s.cfg.WriteKey != "":
		return s.cfg.WriteKey, false, nil
	}
	return "", false, &apiError{Status: http.StatusBadRequest, Code: codeNoWriteKey,
		Message: "no write key: send it in " + writeKeyHeader + ", or start the server with --write-key"}
}

// createRun is POST /v1/runs.
func (s *Server) createRun(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	format, e := bodyFormat(r.Header.Get("Content-Type"))
	if e != nil {
		writeError(w, e)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, badRequest("query: %v", err))
		return
	}
	wait, e := boolParam(q, "wait")
	if e != nil {
		writeError(w, e)
		return
	}
	opts, e := queryOptions(q)
	if e != nil {
		writeError(w, e)
		return
	}
	delimiter, e := delimiterParam(q.Get("delimiter"), format)
	if e != nil {
		writeError(w, e)
		return
	}
	key, own, e := s.writeKey(r)
	if e != nil {
		writeError(w, e)
		return
	}
	diff := s.cfg.Diff != nil
	in := &intake{}
	if format != source.JSON { // the options are all known: check them before reading the body
		sp, e := opts.check(format, diff)
		if e != nil {
			writeError(w, e)
			return
		}
		if in.p, err = newPartitioner(sp, s.cfg.Parts); err != nil {
			writeError(w, badRequest("%v", err))
			return
		}
	}
	up, err := s.store.NewUpload(ctx, s.cfg.Parts)
	if err != nil {
		writeError(w, internal(err))
		return
	}
	in.up = up
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
	var header []string
	if format == source.JSON {
		var bodyOpts options
		bodyOpts, e = ingestEnvelope(ctx, in, body, s.cfg.MaxItem)
		opts.merge(bodyOpts)
	} else {
		header, e = ingestRecords(ctx, in, body, format, delimiter, s.cfg.MaxItem)
	}
	var sp spec
	if e == nil {
		sp, e = opts.check(format, diff)
		sp.Header = header
	}
	if e == nil {
		var p *partitioner
		if p, err = newPartitioner(sp, s.cfg.Parts); err == nil {
			err = in.finish(ctx, p)
		}
		if err != nil {
			e = internal(fmt.Errorf("storing the body: %w", err))
		}
	}
	if e != nil {
		in.abort()
		if err := up.Abort(); err != nil {
			s.log.Error("cannot delete an upload", "err", err)
		}
		writeError(w, e)
		return
	}
	sp.OwnKey = own
	runKey := opts.RunKey
	if runKey == "" {
		runKey = segloop.NewRunKey()
	}
	specJSON, _ := json.Marshal(sp)
	stored := ""
	if own {
		stored = key
	}
	_, dest := s.cfg.destination(key)
	run, err := up.Commit(ctx, runstore.New{RunKey: runKey, Destination: dest, Spec: specJSON}, stored)
	if err != nil {
		up.Abort()
		writeError(w, internal(err))
		return
	}
	s.log.Info("run created", "run", run.ID, "items", run.Items, "format", format)
	s.submit(ctx, run)
	s.accepted(w, r, run, wait)
}

// accepted answers a created run: 202 {"id", "status"}, or with wait the
// run and its results once it ends.
func (s *Server) accepted(w http.ResponseWriter, r *http.Request, run runstore.Run, wait bool) {
	if !wait {
		writeJSON(w, http.StatusAccepted, struct {
			ID      string          `json:"id"`
			Status  runstore.Status `json:"status"`
			RetryOf string          `json:"retryOf,omitempty"`
		}{run.ID, run.Status, run.RetryOf})
		return
	}
	run, err := s.waitFinished(r.Context(), run.ID)
	if r.Context().Err() != nil {
		return
	}
	if err != nil {
		writeError(w, internal(err))
		return
	}
	if !run.Status.Finished() {
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: codeShuttingDown,
			Message: "the server is shutting down; run " + run.ID + " is stored and resumes when it restarts: GET /v1/runs/" + run.ID})
		return
	}
	head, _ := json.Marshal(viewOf(run))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.WriteString(`{"run":`)
	bw.Write(head)
	bw.WriteString(`,"results":[`)
	first := true
	err = s.store.Results(r.Context(), run.ID, "", -1, func(_ int64, line []byte) error {
		if !first {
			bw.WriteByte(',')
		}
		first = false
		_, err := bw.Write(line[:len(line)-1]) // without its newline
		return err
	})
	if err != nil {
		s.log.Warn("results cut short", "run", run.ID, "err", err)
		return // the client sees a truncated body, not a valid one
	}
	bw.WriteString("]}\n")
	bw.Flush()
}

// getRun is GET /v1/runs/{id}.
func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	run, e := s.run(r)
	if e != nil {
		writeError(w, e)
		return
	}
	v := viewOf(run)
	ws, err := s.store.Workers(r.Context(), run.ID)
	if err != nil {
		writeError(w, internal(err))
		return
	}
	for _, wk := range ws {
		v.Workers = append(v.Workers, workerView{wk.Replica, wk.Chunks, wk.Results})
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) run(r *http.Request) (runstore.Run, *apiError) {
	id := r.PathValue("id")
	run, err := s.store.Get(r.Context(), id)
	if errors.Is(err, runstore.ErrNotFound) {
		return run, notFound(id)
	}
	if err != nil {
		return run, internal(err)
	}
	return run, nil
}

// listRuns is GET /v1/runs[?status=S][&limit=N]: newest first.
func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	st := runstore.Status(q.Get("status"))
	if st != "" && !st.Valid() {
		writeError(w, badRequest("status: want queued, running, succeeded, completed_with_failures, failed or cancelled, got %q", st))
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, badRequest("limit: want 1 to 1000, got %q", v))
			return
		}
		limit = n
	}
	runs, err := s.store.List(r.Context(), st, 0, limit)
	if err != nil {
		writeError(w, internal(err))
		return
	}
	views := make([]runView, len(runs))
	for i, run := range runs {
		views[i] = viewOf(run)
	}
	writeJSON(w, http.StatusOK, map[string][]runView{"runs": views})
}

// results is GET /v1/runs/{id}/results[?status=S][&after=INDEX]: the result
// lines, in index order, streamed from the store.
func (s *Server) results(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status := q.Get("status")
	switch status {
	case "", "ok", "invalid", "failed", "skipped", "unchanged":
	default:
		writeError(w, badRequest("status: want ok, invalid, failed, skipped or unchanged, got %q", status))
		return
	}
	after := int64(-1)
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < -1 {
			writeError(w, badRequest("after: want an item index (0 or more), got %q", v))
			return
		}
		after = n
	}
	run, e := s.run(r)
	if e != nil {
		writeError(w, e)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	rc := http.NewResponseController(w)
	err := s.store.Results(r.Context(), run.ID, status, after, func(_ int64, line []byte) error {
		if bw.Available() < len(line) {
			if err := bw.Flush(); err != nil {
				return err
			}
			rc.Flush()
		}
		_, err := bw.Write(line)
		return err
	})
	if err == nil {
		bw.Flush()
	}
}

// retryRun is POST /v1/runs/{id}/retry: a new run of the run's failed
// items, same indexes, same run key, so the same messageIds.
func (s *Server) retryRun(w http.ResponseWriter, r *http.Request) {
	wait, e := boolParam(r.URL.Query(), "wait")
	if e != nil {
		writeError(w, e)
		return
	}
	run, e := s.run(r)
	if e != nil {
		writeError(w, e)
		return
	}
	switch {
	case !run.Status.Finished():
		writeError(w, &apiError{Status: http.StatusConflict, Code: codeRunNotFinished, Message: "run " + run.ID + " is " + string(run.Status) + ": retry it once it has finished"})
		return
	case run.Counts.Failed == 0:
		writeError(w, &apiError{Status: http.StatusConflict, Code: codeNothingToRetry, Message: "run " + run.ID + " has no failed items"})
		return
	}
	key, own, e := s.writeKey(r)
	if e != nil {
		writeError(w, e)
		return
	}
	if _, dest := s.cfg.destination(key); dest != run.Destination {
		writeError(w, &apiError{Status: http.StatusConflict, Code: codeDifferentKey,
			Message: "run " + run.ID + " sent with another write key (or endpoint): send its key in " + writeKeyHeader})
		return
	}
	var sp spec
	if err := json.Unmarshal(run.Spec, &sp); err != nil {
		writeError(w, internal(err))
		return
	}
	if sp.Diff && s.cfg.Diff == nil {
		writeError(w, &apiError{Status: http.StatusBadRequest, Code: codeDiffUnavailable, Message: "run " + run.ID + " is in diff mode: " + errDiffUnavailable.Error()})
		return
	}
	sp.OwnKey = own
	specJSON, _ := json.Marshal(sp)
	stored := ""
	if own {
		stored = key
	}
	retry, err := s.store.NewRetry(r.Context(), run.ID, runstore.New{RunKey: run.RunKey, Destination: run.Destination, Spec: specJSON}, stored)
	if err != nil {
		writeError(w, internal(err))
		return
	}
	s.log.Info("retry created", "run", retry.ID, "retryOf", run.ID, "items", retry.Items)
	s.submit(r.Context(), retry)
	s.accepted(w, r, retry, wait)
}

func boolParam(q map[string][]string, name string) (bool, *apiError) {
	vs := q[name]
	if len(vs) == 0 {
		return false, nil
	}
	b, err := strconv.ParseBool(vs[len(vs)-1])
	if err != nil {
		return false, badRequest("%s: want true or false, got %q", name, vs[len(vs)-1])
	}
	return b, nil
}

func delimiterParam(v string, format source.Format) (rune, *apiError) {
	if v == "" {
		return 0, nil
	}
	if format != source.CSV && format != source.TSV {
		return 0, badRequest("delimiter: applies to a CSV body only")
	}
	if v == `\t` || v == "tab" {
		v = "\t"
	}
	c, size := utf8.DecodeRuneInString(v)
	if size != len(v) || c == utf8.RuneError || c == '"' || c == '\r' || c == '\n' {
		return 0, badRequest("delimiter: want one character other than a quote or newline, got %q", v)
	}
	return c, nil
}
