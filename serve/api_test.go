package serve_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/segloop/segloop/segment/segmenttest"
	"github.com/segloop/segloop/serve"
)

func TestAuth(t *testing.T) {
	e := start(t, segmenttest.Options{}, serve.Config{Token: testToken, WriteKey: testWriteKey})
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"no token", "", 401},
		{"wrong token", "Bearer tok-wrong-wrong-wrong-wrong", 401},
		{"not bearer", "Basic " + testToken, 401},
		{"right token", "Bearer " + testToken, 200},
		{"scheme in any case", "bearer " + testToken, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, b, hdr := e.do("GET", "/v1/runs", "", nil, "Authorization", tc.auth)
			if code != tc.want {
				t.Fatalf("GET /v1/runs = %d %s; want %d", code, b, tc.want)
			}
			if code == 401 {
				if c, _ := errorBody(t, b); c != "unauthorized" {
					t.Errorf("code %q", c)
				}
				if hdr.Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate")
				}
			}
		})
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		if code, b, _ := e.do("GET", path, "", nil, "Authorization", ""); code != 200 {
			t.Errorf("GET %s without token = %d %s", path, code, b)
		}
	}
	// Every /v1 route needs the token.
	for _, r := range []struct{ method, path string }{
		{"POST", "/v1/identify"}, {"POST", "/v1/runs"}, {"GET", "/v1/runs/x"}, {"GET", "/v1/runs/x/results"},
		{"POST", "/v1/runs/x/retry"}, {"POST", "/v1/runs/x/cancel"},
	} {
		if code, _, _ := e.do(r.method, r.path, "application/json", strings.NewReader("{}"), "Authorization", ""); code != 401 {
			t.Errorf("%s %s without token = %d; want 401", r.method, r.path, code)
		}
	}
}

func TestPageSignIn(t *testing.T) {
	e := start(t, segmenttest.Options{}, serve.Config{Token: testToken, WriteKey: testWriteKey})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(e.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("GET / = %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}
	res, _ = client.PostForm(e.url+"/login", url.Values{"token": {"wrong-wrong-wrong-wrong"}})
	res.Body.Close()
	if res.StatusCode != 401 || len(res.Cookies()) != 0 {
		t.Fatalf("wrong token: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	res, _ = client.PostForm(e.url+"/login", url.Values{"token": {testToken}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 1 {
		t.Fatalf("sign in: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	c := res.Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || strings.Contains(c.Value, testToken) {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, not the token", c)
	}
	get := func(path string, hdr ...string) (int, string) {
		req, _ := http.NewRequest("GET", e.url+path, nil)
		req.AddCookie(c)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b strings.Builder
		fmt.Fprint(&b, res.Header)
		buf := make([]byte, 1<<16)
		n, _ := res.Body.Read(buf)
		return res.StatusCode, string(buf[:n])
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "app.js") {
		t.Fatalf("GET / signed in = %d, not the app page", code)
	}
	if code, _ := get("/v1/runs"); code != 200 {
		t.Fatalf("GET /v1/runs with the cookie = %d", code)
	}
	// A state-changing call with the cookie from another origin is refused.
	req, _ := http.NewRequest("POST", e.url+"/v1/runs/x/cancel", nil)
	req.AddCookie(c)
	req.Header.Set("Origin", "http://evil.example")
	res, _ = client.Do(req)
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Fatalf("cross-origin POST with the cookie = %d; want 403", res.StatusCode)
	}
}

func TestErrors(t *testing.T) {
	e := start(t, segmenttest.Options{}, serve.Config{Token: testToken, WriteKey: testWriteKey, MaxBody: 4096})
	big := `{"items":[` + strings.Repeat(`{"id":"u","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},`, 100) + `{"id":"v"}]}`
	for _, tc := range []struct {
		name, method, path, ctype, body string
		want                            int
		code, inMsg                     string
	}{
		{"not JSON", "POST", "/v1/runs", "application/json", `{"items": [`, 400, "bad_request", "items"},
		{"items not an array", "POST", "/v1/runs", "application/json", `{"items": 5}`, 400, "bad_request", "items: want an array"},
		{"body not an object", "POST", "/v1/runs", "application/json", `[1,2]`, 400, "bad_request", `want a JSON object {"items"`},
		{"no items", "POST", "/v1/runs", "application/json", `{"runKey": "k"}`, 400, "bad_request", `no "items"`},
		{"unknown field", "POST", "/v1/runs", "application/json", `{"items": [], "colour": 1}`, 400, "bad_request", `unknown field "colour"`},
		{"bad batch", "POST", "/v1/runs", "application/json", `{"items": [], "batch": 0}`, 400, "bad_request", "batch"},
		{"batch of wrong type", "POST", "/v1/runs", "application/json", `{"items": [], "batch": "x"}`, 400, "bad_request", "batch: want int"},
		{"bad mapping", "POST", "/v1/runs", "application/json", `{"items": [], "mapping": {"userId": "{{item.id | nope}}"}}`, 400, "bad_request", "mapping: "},
		{"trigger not an object", "POST", "/v1/runs", "application/json", `{"items": [], "trigger": [1]}`, 400, "bad_request", "trigger"},
		{"diff unavailable", "POST", "/v1/runs", "application/json", `{"items": [], "diff": true}`, 400, "diff_unavailable", "--diff"},
		{"diff unavailable in the query", "POST", "/v1/runs?diff=true", "text/csv", "id\nu1\n", 400, "diff_unavailable", "--diff"},
		{"diff not a boolean", "POST", "/v1/runs", "application/json", `{"items": [], "diff": "users"}`, 400, "bad_request", "diff: want bool"},
		{"bad query diff", "POST", "/v1/runs?diff=maybe", "text/csv", "id\nu1\n", 400, "bad_request", "diff: want true or false"},
		{"trailing data", "POST", "/v1/runs", "application/json", `{"items": []} {}`, 400, "bad_request", "after the JSON object"},
		{"bad query batch", "POST", "/v1/runs?batch=many", "text/csv", "id\nu1\n", 400, "bad_request", "batch"},
		{"unknown query parameter", "POST", "/v1/runs?colour=red", "text/csv", "id\nu1\n", 400, "unknown_parameter", "colour"},
		{"bad wait", "POST", "/v1/runs?wait=soon", "text/csv", "id\nu1\n", 400, "bad_request", "wait"},
		{"bad query", "POST", "/v1/runs?batch=1;wait=true", "text/csv", "id\nu1\n", 400, "bad_request", "query"},
		{"delimiter for NDJSON", "POST", "/v1/runs?delimiter=%3B", "application/x-ndjson", "{}\n", 400, "bad_request", "delimiter"},
		{"bad CSV header", "POST", "/v1/runs", "text/csv", "id,id\nu1,u2\n", 400, "bad_request", "header"},
		{"media type", "POST", "/v1/runs", "text/plain", "hello", 415, "unsupported_media_type", "text/plain"},
		{"body too large", "POST", "/v1/runs", "application/json", big, 413, "body_too_large", "4096"},
		{"CSV body too large", "POST", "/v1/runs", "text/csv", "id\n" + strings.Repeat("u123456789\n", 500), 413, "body_too_large", "limit"},
		{"unknown run", "GET", "/v1/runs/nope", "", "", 404, "not_found", `"nope"`},
		{"unknown run results", "GET", "/v1/runs/nope/results", "", "", 404, "not_found", "nope"},
		{"unknown run retry", "POST", "/v1/runs/nope/retry", "", "", 404, "not_found", "nope"},
		{"unknown run cancel", "POST", "/v1/runs/nope/cancel", "", "", 404, "not_found", "nope"},
		{"bad results status", "GET", "/v1/runs/nope/results?status=great", "", "", 400, "bad_request", "great"},
		{"bad results after", "GET", "/v1/runs/nope/results?after=x", "", "", 400, "bad_request", "after"},
		{"bad list status", "GET", "/v1/runs?status=done", "", "", 400, "bad_request", "done"},
		{"bad list limit", "GET", "/v1/runs?limit=0", "", "", 400, "bad_request", "limit"},
		{"method", "PUT", "/v1/runs", "", "", 405, "method_not_allowed", "GET, POST"},
		{"method on a run", "DELETE", "/v1/runs/x", "", "", 405, "method_not_allowed", "GET"},
		{"unknown path", "GET", "/v1/nothing", "", "", 404, "not_found", "/v1/nothing"},
		{"identify not JSON", "POST", "/v1/identify", "application/json", `userId=u1`, 400, "bad_request", "body: want a JSON object"},
		{"identify too large", "POST", "/v1/identify", "application/json", `{"userId":"u","traits":{"x":"` + strings.Repeat("x", 70000) + `"}}`, 413, "body_too_large", "limit"},
		{"identify bad timeout", "POST", "/v1/identify?timeout=forever", "application/json", `{"userId":"u"}`, 400, "bad_request", "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			var code int
			var b []byte
			if body != nil {
				code, b, _ = e.do(tc.method, tc.path, tc.ctype, body)
			} else {
				code, b, _ = e.do(tc.method, tc.path, tc.ctype, nil)
			}
			if code != tc.want {
				t.Fatalf("%s %s = %d %s; want %d", tc.method, tc.path, code, b, tc.want)
			}
			c, msg := errorBody(t, b)
			if c != tc.code || !strings.Contains(msg, tc.inMsg) {
				t.Fatalf("error %q %q; want code %q, message naming %q", c, msg, tc.code, tc.inMsg)
			}
		})
	}
	// Nothing half-received was kept.
	var list struct{ Runs []runView }
	e.json("GET", "/v1/runs", nil, 200, &list)
	if len(list.Runs) != 0 {
		t.Fatalf("%d runs stored from refused requests", len(list.Runs))
	}
}

func TestNoWriteKey(t *testing.T) {
	e := start(t, segmenttest.Options{}, serve.Config{Token: testToken})
	code, b, _ := e.do("POST", "/v1/runs", "text/csv", strings.NewReader("id\nu1\n"))
	if c, _ := errorBody(t, b); code != 400 || c != "no_write_key" {
		t.Fatalf("run without any write key = %d %s", code, b)
	}
	code, b, _ = e.do("POST", "/v1/identify", "application/json", strings.NewReader(`{"userId":"u1"}`))
	if c, _ := errorBody(t, b); code != 400 || c != "no_write_key" {
		t.Fatalf("identify without any write key = %d %s", code, b)
	}
	// With the header it goes through.
	var got struct{ Success bool }
	e.json("POST", "/v1/identify", map[string]any{"userId": "u1"}, 200, &got, "X-Segment-Write-Key", "wk-own-1234")
}

func TestEnvelopeItemTooLarge(t *testing.T) {
	e := start(t, segmenttest.Options{}, serve.Config{Token: testToken, WriteKey: testWriteKey, MaxItem: 1024})
	huge := `{"items":[{"id":"u1"},{"id":"u2","pad":"` + strings.Repeat("x", 200<<10) + `"}]}`
	code, b, _ := e.do("POST", "/v1/runs", "application/json", strings.NewReader(huge))
	if c, msg := errorBody(t, b); code != 413 || c != "body_too_large" || !strings.Contains(msg, "items[1]") {
		t.Fatalf("huge item = %d %s", code, b)
	}
	// An NDJSON line over the item limit is an invalid item; the run goes on.
	lines := "{\"id\":\"a\"}\n{\"id\":\"b\",\"pad\":\"" + strings.Repeat("x", 2048) + "\"}\n{\"id\":\"c\"}\n"
	var got struct {
		Run     runView
		Results []resultLine
	}
	code, b, _ = e.do("POST", "/v1/runs?wait=true", "application/x-ndjson", strings.NewReader(lines))
	if code != 200 || jsonUnmarshal(b, &got) != nil || got.Run.Counts.OK != 2 || got.Run.Counts.Invalid != 1 {
		t.Fatalf("overlong line = %d %s", code, b)
	}
}
