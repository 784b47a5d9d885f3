package segment_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/segment"
)

// TestWriteKeyNeverLeaks forces every error path and every string form and
// checks that neither the write key nor its Basic-auth encoding shows up.
func TestWriteKeyNeverLeaks(t *testing.T) {
	secrets := []string{
		testKey,
		base64.StdEncoding.EncodeToString([]byte(testKey + ":")),
		base64.StdEncoding.EncodeToString([]byte(testKey)),
	}
	var msgs []string
	add := func(what string, v any) {
		for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
			msgs = append(msgs, what+": "+fmt.Sprintf(f, v))
		}
	}

	// Configuration errors, including endpoints that carry the key.
	for _, ep := range []string{
		"https://" + testKey + "@api.segment.io", "https://x:" + testKey + "@api.segment.io",
		"https://api.segment.io/?k=" + testKey, "https://api.segment.io/#" + testKey,
		"ftp://" + testKey, "https://[" + testKey, testKey,
	} {
		_, err := segment.NewClient(segment.Config{WriteKey: testKey, Endpoint: ep})
		if err == nil {
			t.Fatalf("endpoint %q accepted", ep)
		}
		add("NewClient", err)
	}
	_, err := segment.RegionEndpoint("xx")
	add("RegionEndpoint", err)

	// A server that echoes the credentials in its error bodies, whole and
	// straddling the MaxErrorBody cut.
	echo := func(prefix int) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			user, _, _ := r.BasicAuth()
			fmt.Fprintf(w, "%s auth=%s key=%s", strings.Repeat("p", prefix), r.Header.Get("Authorization"), user)
		}
	}
	for _, prefix := range []int{0, segment.MaxErrorBody - 20, segment.MaxErrorBody - 50} {
		srv := newScriptServer(t)
		srv.Config.Handler = http.HandlerFunc(echo(prefix))
		c := newTestClient(t, srv.URL)
		_, err := c.Identify(context.Background(), []byte(`{"userId":"u"}`), 1)
		if err == nil {
			t.Fatal("echo server: no error")
		}
		add("status", err)
		add("client", c)
	}

	// Transport failures: reset, timeout, refused, canceled, invalid event.
	srv := newScriptServer(t, reply{reset: true}, reply{hang: true})
	c := newTestClient(t, srv.URL, func(cfg *segment.Config) { cfg.Timeout = 50 * time.Millisecond })
	for range 2 {
		_, err := c.Batch(context.Background(), nil, 0)
		add("transport", err)
	}
	closed := newScriptServer(t)
	closed.Close()
	c = newTestClient(t, closed.URL)
	_, err = c.Batch(context.Background(), nil, 0)
	add("refused", err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Batch(ctx, nil, 0)
	add("canceled", err)
	_, err = c.Identify(context.Background(), []byte("not an object"), 0)
	add("invalid event", err)

	// String forms of the configuration and the client.
	cfg := segment.Config{WriteKey: testKey, Endpoint: segment.EndpointEU}
	add("config", cfg)
	add("config pointer", &cfg)
	add("client", c)

	for _, m := range msgs {
		for _, s := range secrets {
			if strings.Contains(m, s) {
				t.Errorf("secret %q leaked in %s", s, m)
			}
		}
	}
	if len(msgs) < 80 {
		t.Errorf("only %d messages checked", len(msgs))
	}
}

// TestWriteKeyEchoedInEveryEncoding: a server that echoes the write key in
// its error body, in any encoding, at any position (straddling the
// MaxErrorBody cut too), leaks no run of 8 key characters into the error.
func TestWriteKeyEchoedInEveryEncoding(t *testing.T) {
	const key = "wk_2Xq9vLmN0pRsTuVwXyZaBcDeFgHiJkLmNoPqRsTuVwXy/+Ab" // 52 characters, like a real key
	for name, echo := range encodings(key) {
		for _, at := range []int{0, 100, segment.MaxErrorBody - len(echo)/2, segment.MaxErrorBody - 7, segment.MaxErrorBody - 3} {
			if at < 0 {
				continue
			}
			body := strings.Repeat("p", at) + echo + " and more"
			srv := newScriptServer(t)
			srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, body)
			})
			c := newTestClient(t, srv.URL, func(cfg *segment.Config) { cfg.WriteKey = key })
			_, err := c.Identify(context.Background(), []byte(`{"userId":"u"}`), 0)
			var se *segment.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("%s at %d: err = %v, want a *StatusError", name, at, err)
			}
			if l := leak(err.Error(), key); l != "" {
				t.Errorf("%s echoed at %d: %s", name, at, l)
			}
			if len(se.Body) > segment.MaxErrorBody+len(redactedMark) {
				t.Errorf("%s at %d: Body of %d bytes", name, at, len(se.Body))
			}
		}
	}
}

// TestWriteKeyInTransportErrors: the key echoed where the transport quotes
// the server (a malformed status line) is scrubbed from the RequestError,
// which still classifies as before.
func TestWriteKeyInTransportErrors(t *testing.T) {
	const key = "wk_2Xq9vLmN0pRsTuVwXyZaBcDeFgHiJkLmNoPqRsTuVwXy0Ab"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 4096)
				conn.Read(buf)
				fmt.Fprintf(conn, "HTTP/1.1 %s bogus\r\n\r\n", key)
			}()
		}
	}()
	c := newTestClient(t, "http://"+ln.Addr().String(), func(cfg *segment.Config) { cfg.WriteKey = key })
	_, err = c.Batch(context.Background(), nil, 0)
	var re *segment.RequestError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a *RequestError", err)
	}
	if l := leak(err.Error(), key); l != "" {
		t.Fatalf("transport error: %s", l)
	}
	if got := segment.Classify(err); got != segment.Classify(&segment.RequestError{Err: errors.New("x")}) {
		t.Fatalf("the scrubbed error classifies as %v", got)
	}
}
