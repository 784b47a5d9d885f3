package segment_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/segment/segmenttest"
)

// TestClientStaleConnection: a reset of a kept-alive connection that carried an
// earlier request, before any answer, is Stale (and Classify says Immediate);
// a reset of a new connection, or a timeout on a reused one, is not.
func TestClientStaleConnection(t *testing.T) {
	srv := segmenttest.NewServer(segmenttest.Options{WriteKeys: []string{testKey}})
	defer srv.Close()
	// Two clients on one HTTP client share its kept-alive connections: the
	// answered requests and the resets go through c, whose timeout a loaded
	// machine never reaches; the timeout through short, on the same connection.
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer hc.CloseIdleConnections()
	c := newTestClient(t, srv.URL, func(cfg *segment.Config) { cfg.HTTPClient = hc })
	short := newTestClient(t, srv.URL, func(cfg *segment.Config) { cfg.HTTPClient, cfg.Timeout = hc, 200*time.Millisecond })
	ev := []byte(`{"type":"identify","userId":"u1"}`)
	ctx := context.Background()
	sendWith := func(c *segment.Client, call string) error {
		if call == "identify" {
			_, err := c.Identify(ctx, ev, 0)
			return err
		}
		_, err := c.Batch(ctx, [][]byte{ev}, 0)
		return err
	}
	send := func(call string) error { return sendWith(c, call) }
	stale := func(err error) (bool, bool) {
		var re *segment.RequestError
		return errors.As(err, &re), re != nil && re.Stale
	}
	for _, call := range []string{"identify", "batch"} {
		t.Run(call, func(t *testing.T) {
			srv.Script(segmenttest.Response{Reset: true}) // the first request opens a new connection
			if isRE, s := stale(send(call)); !isRE || s {
				t.Errorf("reset of a new connection: RequestError %v, Stale %v; want a RequestError, not Stale", isRE, s)
			}
			if err := send(call); err != nil {
				t.Fatal(err)
			}
			srv.Script(segmenttest.Response{Reset: true}) // on the connection of the request before
			err := send(call)
			if isRE, s := stale(err); !isRE || !s {
				t.Errorf("reset of a reused connection: %v: RequestError %v, Stale %v; want Stale", err, isRE, s)
			}
			if v := segment.Classify(err); !v.Retry || !v.Immediate {
				t.Errorf("Classify = %+v, want Retry and Immediate", v)
			}
			if err := send(call); err != nil {
				t.Fatal(err)
			}
			srv.Script(segmenttest.Response{Delay: time.Minute}) // a timeout on a reused connection
			err = sendWith(short, call)
			if isRE, s := stale(err); !isRE || s {
				t.Errorf("timeout: %v: RequestError %v, Stale %v; want a RequestError, not Stale", err, isRE, s)
			}
			if v := segment.Classify(err); !v.Retry || v.Immediate {
				t.Errorf("Classify(timeout) = %+v, want Retry, not Immediate", v)
			}
		})
	}
}
