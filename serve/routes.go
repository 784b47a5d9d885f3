package serve

import (
	"net/http"
	"strconv"
	"strings"
)

// routes builds the handler: the API under /v1 (token required), the page
// and its sign-in, /healthz and /metrics (open). Unknown paths and wrong
// methods are answered with the API's JSON errors.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.auth.require(h)) }
	api("POST /v1/identify", s.identify)
	api("POST /v1/runs", s.createRun)
	api("GET /v1/runs", s.listRuns)
	api("GET /v1/runs/{id}", s.getRun)
	api("GET /v1/runs/{id}/results", s.results)
	api("POST /v1/runs/{id}/retry", s.retryRun)
	api("POST /v1/runs/{id}/cancel", s.cancelRun)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /{$}", s.page)
	mux.Handle("GET /static/", pageAssets())
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		if _, pattern := mux.Handler(r); pattern == "" {
			s.unrouted(mux, rec, r)
		} else {
			mux.ServeHTTP(rec, r)
		}
		code := rec.status
		if code == 0 {
			code = http.StatusOK
		}
		s.metrics.api.WithLabelValues(strconv.Itoa(code)).Inc()
	})
}

// unrouted answers a request no route takes: 405 (with Allow) when the
// path exists for other methods, else 404.
func (s *Server) unrouted(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := mux.Handler(probe); p != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Code: codeMethod,
			Message: r.Method + " " + r.URL.Path + ": allowed: " + strings.Join(allow, ", ")})
		return
	}
	writeError(w, &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "no such path: " + r.URL.Path})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.store.StatusCounts(r.Context()); err != nil {
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: codeInternal, Message: "database: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// statusRecorder remembers the status a handler answered, for the metrics.
// It passes Flush on (results stream) and Unwrap for http.ResponseController.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
