package segment_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/segloop/segloop/segment"
)

const testKey = "wk_TEST_secret_0123456789"

var fixedNow = time.Date(2024, 1, 2, 3, 4, 5, 123000000, time.UTC)

func newTestClient(t *testing.T, endpoint string, mod ...func(*segment.Config)) *segment.Client {
	t.Helper()
	cfg := segment.Config{WriteKey: testKey, Endpoint: endpoint, Now: func() time.Time { return fixedNow }}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := segment.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientIdentifyGolden(t *testing.T) {
	srv := newScriptServer(t)
	c := newTestClient(t, srv.URL)
	in := goldenIdentify()
	ev, err := in.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	code, err := c.Identify(context.Background(), ev, 0)
	if code != 200 || err != nil {
		t.Fatalf("Identify = %d, %v", code, err)
	}
	req := srv.last(t)
	if req.method != http.MethodPost || req.path != "/v1/identify" {
		t.Errorf("request %s %s, want POST /v1/identify", req.method, req.path)
	}
	checkGolden(t, "identify_request.json", req.body)
	checkGolden(t, "auth_header.txt", []byte(req.header.Get("Authorization")))
	checkHeaders(t, req.header, "segloop/"+segment.Version, "")
}

func TestClientBatchGolden(t *testing.T) {
	srv := newScriptServer(t)
	c := newTestClient(t, srv.URL+"/", func(cfg *segment.Config) { cfg.UserAgent = "segloop-test/1" })
	first := goldenIdentify()
	second := segment.Identify{UserID: "u-1002", Email: "bob@example.com", MessageID: segment.MessageID("run-1", 1, "u-1002")}
	var events [][]byte
	for _, in := range []segment.Identify{first, second} {
		ev, err := in.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	code, err := c.Batch(context.Background(), events, 2)
	if code != 200 || err != nil {
		t.Fatalf("Batch = %d, %v", code, err)
	}
	req := srv.last(t)
	if req.path != "/v1/batch" {
		t.Errorf("path %s, want /v1/batch", req.path)
	}
	checkGolden(t, "batch_request.json", req.body)
	checkHeaders(t, req.header, "segloop-test/1", "2")
	var body struct {
		Batch  []map[string]any `json:"batch"`
		SentAt time.Time        `json:"sentAt"`
	}
	if err := json.Unmarshal(req.body, &body); err != nil || len(body.Batch) != 2 || !body.SentAt.Equal(fixedNow) {
		t.Errorf("batch body decodes to %d events, sentAt %v, err %v", len(body.Batch), body.SentAt, err)
	}
}

func checkHeaders(t *testing.T, h http.Header, ua, retry string) {
	t.Helper()
	if got := h.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := h.Get("User-Agent"); got != ua {
		t.Errorf("User-Agent = %q, want %q", got, ua)
	}
	if got, ok := h["X-Retry-Count"]; retry == "" && ok || retry != "" && (len(got) != 1 || got[0] != retry) {
		t.Errorf("X-Retry-Count = %q (present %v), want %q", got, ok, retry)
	}
	if user, pass, ok := (&http.Request{Header: h}).BasicAuth(); !ok || user != testKey || pass != "" {
		t.Errorf("BasicAuth = %q, %q, %v; want the write key and an empty password", user, pass, ok)
	}
}

func TestClientRetryCount(t *testing.T) {
	srv := newScriptServer(t)
	c := newTestClient(t, srv.URL)
	ev := []byte(`{"type":"identify","userId":"u"}`)
	for _, tt := range []struct {
		retry int
		want  string
	}{{0, ""}, {1, "1"}, {4, "4"}} {
		t.Run(fmt.Sprint(tt.retry), func(t *testing.T) {
			if _, err := c.Identify(context.Background(), ev, tt.retry); err != nil {
				t.Fatal(err)
			}
			checkHeaders(t, srv.last(t).header, "segloop/"+segment.Version, tt.want)
		})
	}
}

func TestClientIdentifySentAt(t *testing.T) {
	srv := newScriptServer(t)
	c := newTestClient(t, srv.URL)
	const sentAt = `"sentAt":"2024-01-02T03:04:05.123Z"`
	tests := []struct {
		event, want string
	}{
		{`{"userId":"u"}`, `{"userId":"u",` + sentAt + `}`},
		{"{\"userId\":\"u\"} \n", `{"userId":"u",` + sentAt + `}`},
		{`{}`, `{` + sentAt + `}`},
		{"{ \n}", "{ \n" + sentAt + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			if _, err := c.Identify(context.Background(), []byte(tt.event), 0); err != nil {
				t.Fatal(err)
			}
			if got := string(srv.last(t).body); got != tt.want {
				t.Errorf("body %q, want %q", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "}", "  ", `{"a":1`, "[1]"} {
		n := srv.count()
		if code, err := c.Identify(context.Background(), []byte(bad), 0); code != 0 || !errors.Is(err, segment.ErrInvalid) || srv.count() != n {
			t.Errorf("Identify(%q) = %d, %v; want 0, ErrInvalid, nothing sent", bad, code, err)
		}
	}
}

// TestClientConcurrent hammers one client from several goroutines so that the
// race detector sees the pooled request bodies, and checks every body arrives intact.
func TestClientConcurrent(t *testing.T) {
	srv := newScriptServer(t)
	c := newTestClient(t, srv.URL)
	const workers, perWorker = 8, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				uid := fmt.Sprintf("u-%d-%d", w, i)
				ev, _ := (&segment.Identify{UserID: uid, Traits: map[string]any{"i": i}}).AppendJSON(nil)
				var err error
				if i%2 == 0 {
					_, err = c.Identify(context.Background(), ev, 0)
				} else {
					_, err = c.Batch(context.Background(), [][]byte{ev, ev}, 0)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	seen := map[string]int{}
	for _, r := range srv.requests {
		var one struct {
			UserID string            `json:"userId"`
			Batch  []json.RawMessage `json:"batch"`
		}
		if err := json.Unmarshal(r.body, &one); err != nil {
			t.Fatalf("corrupt body %q: %v", r.body, err)
		}
		if one.UserID != "" {
			seen[one.UserID]++
		}
		for _, ev := range one.Batch {
			var e struct {
				UserID string `json:"userId"`
			}
			_ = json.Unmarshal(ev, &e)
			seen[e.UserID]++
		}
	}
	if len(seen) != workers*perWorker {
		t.Errorf("saw %d distinct users, want %d", len(seen), workers*perWorker)
	}
}

func TestClientSuppliedHTTPClient(t *testing.T) {
	srv := newScriptServer(t, reply{code: 302, header: map[string]string{"Location": "/elsewhere"}})
	followed := 0
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { followed++; return nil }}
	c := newTestClient(t, srv.URL, func(cfg *segment.Config) { cfg.HTTPClient = hc })
	code, err := c.Batch(context.Background(), nil, 0)
	if code != 302 || segment.Classify(err) != (segment.Verdict{Endpoint: true}) || srv.count() != 1 {
		t.Errorf("Batch = %d, %v after %d requests; want a permanent 302 and no redirect", code, err, srv.count())
	}
	if _ = hc.CheckRedirect(nil, nil); followed != 1 {
		t.Error("the caller's http.Client was modified")
	}
}

func TestNewClientErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  segment.Config
	}{
		{"empty key", segment.Config{}},
		{"blank key", segment.Config{WriteKey: "  "}},
		{"bad scheme", segment.Config{WriteKey: testKey, Endpoint: "ftp://api.segment.io"}},
		{"no scheme", segment.Config{WriteKey: testKey, Endpoint: "api.segment.io"}},
		{"no host", segment.Config{WriteKey: testKey, Endpoint: "https://"}},
		{"unparsable", segment.Config{WriteKey: testKey, Endpoint: "https://[::1"}},
		{"credentials", segment.Config{WriteKey: testKey, Endpoint: "https://" + testKey + ":x@api.segment.io"}},
		{"query", segment.Config{WriteKey: testKey, Endpoint: "https://api.segment.io?key=" + testKey}},
		{"negative timeout", segment.Config{WriteKey: testKey, Timeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := segment.NewClient(tt.cfg)
			if c != nil || !errors.Is(err, segment.ErrConfig) {
				t.Errorf("NewClient = %v, %v; want nil, ErrConfig", c, err)
			}
		})
	}
	for _, ok := range []string{"", "https://api.segment.io", "http://127.0.0.1:8080/", "https://proxy.example/segment/v1"} {
		if _, err := segment.NewClient(segment.Config{WriteKey: testKey, Endpoint: ok}); err != nil {
			t.Errorf("NewClient(endpoint %q) = %v", ok, err)
		}
	}
}

func TestRegionEndpoint(t *testing.T) {
	tests := []struct {
		region, want string
		wantErr      bool
	}{
		{"us", segment.EndpointUS, false},
		{"US", segment.EndpointUS, false},
		{" eu ", segment.EndpointEU, false},
		{"Eu", segment.EndpointEU, false},
		{"", "", true},
		{"apac", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			got, err := segment.RegionEndpoint(tt.region)
			if got != tt.want || (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, segment.ErrConfig)) {
				t.Errorf("RegionEndpoint(%q) = %q, %v", tt.region, got, err)
			}
		})
	}
}

func BenchmarkClientBatch(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	c, err := segment.NewClient(segment.Config{WriteKey: testKey, Endpoint: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	evs := make([][]byte, 100)
	for i := range evs {
		evs[i], _ = (&segment.Identify{UserID: fmt.Sprint("user-", i), Email: "a@b.co"}).AppendJSON(nil)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Batch(context.Background(), evs, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// okTransport answers every request 200 in memory, so that a benchmark
// counts only the client's own allocations.
type okTransport struct{}

func (okTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	_ = r.Body.Close()
	return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

func BenchmarkClientBatchInMemory(b *testing.B) {
	c, err := segment.NewClient(segment.Config{WriteKey: testKey, HTTPClient: &http.Client{Transport: okTransport{}}})
	if err != nil {
		b.Fatal(err)
	}
	evs := make([][]byte, 100)
	for i := range evs {
		evs[i], _ = (&segment.Identify{UserID: fmt.Sprint("user-", i), Email: "a@b.co"}).AppendJSON(nil)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Batch(context.Background(), evs, 0); err != nil {
			b.Fatal(err)
		}
	}
}
