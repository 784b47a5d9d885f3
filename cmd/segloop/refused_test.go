package main

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/segloop/segloop/segment/segmenttest"
)

// TestImportEndpointRefusals: an endpoint that refuses every request for a reason of its
// own (a typo'd path answers 404; a self-signed certificate fails TLS verification) ends
// the run after a handful of requests, exit 3, with a message that names the likely
// cause; every row read has exactly one result line.
func TestImportEndpointRefusals(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	var conns atomic.Int64 // connections to the TLS server (each failed handshake is one request)
	tlsSrv := httptest.NewUnstartedServer(srv.Handler)
	tlsSrv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	tests := []struct {
		name     string
		endpoint string
		requests func() int64
		want     []string
	}{
		{"404 everywhere", srv.URL + "/typo", func() int64 { return srv.Stats().Requests },
			[]string{"every request answered 404 Not Found: is --endpoint right?"}},
		{"self-signed certificate", tlsSrv.URL, conns.Load,
			[]string{"TLS certificate failed verification", "x509: certificate signed by unknown authority", "is --endpoint right"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.requests()
			file := writeFile(t, "users.csv", genCSV(1000))
			r := runCLI(t, context.Background(), nil, importArgs(tt.endpoint, "--rate", "0", "--batch", "10", file)...)
			if r.code != exitAborted {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", r.code, exitAborted, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
				}
			}
			lines := parseResults(t, r.stdout) // one line per row read, each index once
			for _, l := range lines {
				if l.Status != "failed" || l.Attempts > 1 {
					t.Errorf("row %d: %s after %d attempts", l.Index, l.Status, l.Attempts)
				}
			}
			if n := tt.requests() - before; n > 8 || len(lines) == 0 {
				t.Errorf("%d requests and %d result lines; want at most 8 requests", n, len(lines))
			}
		})
	}
}
