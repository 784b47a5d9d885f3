package serve_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/segment/segmenttest"
	"github.com/segloop/segloop/serve"
)

func TestIdentify(t *testing.T) {
	e := start(t, segmenttest.Options{KeepEvents: true}, serve.Config{Token: testToken, WriteKey: testWriteKey})
	type answer struct {
		Success   bool   `json:"success"`
		MessageID string `json:"messageId"`
		Status    string `json:"status"`
		Error     string `json:"error"`
	}
	var ok answer
	e.json("POST", "/v1/identify", map[string]any{"userId": "u1", "email": "a@example.com", "name": "Ann", "traits": `{"plan":"pro"}`}, 200, &ok)
	if !ok.Success || ok.MessageID == "" {
		t.Fatalf("answer %+v", ok)
	}
	evs := e.seg.Events()
	if len(evs) != 1 || evs[0].MessageID != ok.MessageID || evs[0].Traits["plan"] != "pro" || evs[0].Traits["email"] != "a@example.com" {
		t.Fatalf("delivered %+v", evs)
	}

	var bad answer
	e.json("POST", "/v1/identify", map[string]any{"email": "not-an-address"}, 422, &bad)
	if bad.Success || bad.Status != "invalid" || !strings.Contains(bad.Error, "userId") {
		t.Fatalf("invalid answer %+v", bad)
	}

	// Retries within the call: a 503 then success.
	e.seg.Script(segmenttest.Response{Status: 503})
	var retried answer
	e.json("POST", "/v1/identify", map[string]any{"userId": "u2"}, 200, &retried)

	// A permanent refusal is a 502 with Segment's reason.
	e.seg.Script(segmenttest.Response{Status: 400, Body: "Bad Request"})
	var refused answer
	e.json("POST", "/v1/identify", map[string]any{"userId": "u3"}, 502, &refused)
	if refused.Status != "failed" || !strings.Contains(refused.Error, "400") {
		t.Fatalf("refused answer %+v", refused)
	}

	// The same Idempotency-Key gives the same messageId: a caller's retry is deduplicated.
	var a, b answer
	e.json("POST", "/v1/identify", map[string]any{"userId": "u5"}, 200, &a, "Idempotency-Key", "call-77")
	e.json("POST", "/v1/identify", map[string]any{"userId": "u5"}, 200, &b, "X-Segloop-Timeout", "5s", "Idempotency-Key", "call-77")
	if a.MessageID != b.MessageID {
		t.Fatalf("messageIds %s, %s; want equal", a.MessageID, b.MessageID)
	}

	// The caller's deadline bounds the retries: a Retry-After longer than it.
	// (Last: the Retry-After holds the destination's limiter for every call.)
	e.seg.Script(segmenttest.Response{Status: 429, RetryAfter: "30"})
	start := time.Now()
	var late answer
	e.json("POST", "/v1/identify?timeout=300ms", map[string]any{"userId": "u4"}, 502, &late)
	if late.Status != "failed" || time.Since(start) > 10*time.Second {
		t.Fatalf("deadline answer %+v after %v", late, time.Since(start))
	}

}

func TestRunJSONWait(t *testing.T) {
	e := start(t, segmenttest.Options{KeepEvents: true}, serve.Config{Token: testToken, WriteKey: testWriteKey})
	body := map[string]any{
		"items": []any{
			map[string]any{"id": 1, "mail": "a@example.com", "plan": "pro"},
			map[string]any{"mail": "b@example.com"},
			"not an object",
			map[string]any{"id": 4, "mail": "d@example.com"},
		},
		"mapping": map[string]any{"userId": "{{item.id}}", "email": "{{item.mail}}", "traits": map[string]any{"plan": "{{item.plan}}", "source": "{{trigger.source}}"}},
		"trigger": map[string]any{"source": "crm"},
		"runKey":  "nightly-1",
		"batch":   2,
	}
	var got struct {
		Run     runView      `json:"run"`
		Results []resultLine `json:"results"`
	}
	e.json("POST", "/v1/runs?wait=true", body, 200, &got)
	r := got.Run
	if r.Status != "completed_with_failures" || r.Read != 4 || r.Counts.OK != 2 || r.Counts.Invalid != 2 || r.FinishedAt == nil || r.Error != nil {
		t.Fatalf("run %+v", r)
	}
	if len(got.Results) != 4 {
		t.Fatalf("%d results; want 4", len(got.Results))
	}
	for i, res := range got.Results {
		if res.Index != int64(i) || res.Line != i+1 {
			t.Errorf("result %d: index %d line %d", i, res.Index, res.Line)
		}
	}
	if !strings.Contains(got.Results[1].Error, "userId") || !strings.Contains(got.Results[2].Error, "not a JSON object") {
		t.Errorf("invalid results %+v %+v", got.Results[1], got.Results[2])
	}
	evs := e.seg.Events()
	if len(evs) != 2 || evs[0].Traits["source"] != "crm" {
		t.Fatalf("delivered %+v", evs)
	}
	// The results endpoint gives the same lines as the CLI would: in order, filtered.
	all := e.results(r.ID, "")
	if len(all) != 4 || all[0].MessageID != got.Results[0].MessageID {
		t.Fatalf("results %+v", all)
	}
	if inv := e.results(r.ID, "?status=invalid"); len(inv) != 2 || inv[0].Index != 1 || inv[1].Index != 2 {
		t.Fatalf("invalid results %+v", inv)
	}
	if after := e.results(r.ID, "?after=1"); len(after) != 2 || after[0].Index != 2 {
		t.Fatalf("results after 1: %+v", after)
	}
	if okAfter := e.results(r.ID, "?status=ok&after=0"); len(okAfter) != 1 || okAfter[0].Index != 3 {
		t.Fatalf("ok results after 0: %+v", okAfter)
	}
}

func TestRunCSVAndNDJSON(t *testing.T) {
	e := start(t, segmenttest.Options{KeepEvents: true}, serve.Config{Token: testToken, WriteKey: testWriteKey})
	var csvRun struct{ ID, Status string }
	code, b, _ := e.do("POST", "/v1/runs?batch=10&runKey=csv-1&delimiter=%3B", "text/csv; charset=utf-8",
		strings.NewReader("id;email;plan\nu1;a@example.com;pro\nu2;bad-email;free\n\"u3\";c@example.com;\n"))
	if code != 202 {
		t.Fatalf("POST csv = %d %s", code, b)
	}
	if err := jsonUnmarshal(b, &csvRun); err != nil || csvRun.ID == "" || (csvRun.Status != "queued" && csvRun.Status != "running") {
		t.Fatalf("202 body %s", b)
	}
	r := e.waitRun(csvRun.ID)
	if r.Counts.OK != 2 || r.Counts.Invalid != 1 || r.Read != 3 {
		t.Fatalf("csv run %+v", r)
	}
	res := e.results(csvRun.ID, "")
	if res[0].Line != 2 || res[1].Status != "invalid" || res[2].UserID != "u3" {
		t.Fatalf("csv results %+v", res)
	}

	mapping := `{"userId":"{{item.uid}}","traits":{"n":"{{item.n | int}}"}}`
	lines := "{\"uid\":\"a\",\"n\":\"1\"}\n\n{\"uid\":\"b\",\"n\":\"x\"}\n{broken\n{\"uid\":\"c\",\"n\":\"3\"}\n"
	var nd struct{ ID string }
	code, b, _ = e.do("POST", "/v1/runs?wait=false&mapping="+urlQuery(mapping), "application/x-ndjson", strings.NewReader(lines))
	if code != 202 || jsonUnmarshal(b, &nd) != nil {
		t.Fatalf("POST ndjson = %d %s", code, b)
	}
	r = e.waitRun(nd.ID)
	res = e.results(nd.ID, "")
	if r.Counts.OK != 2 || r.Counts.Invalid != 2 || len(res) != 4 {
		t.Fatalf("ndjson run %+v results %+v", r, res)
	}
	if res[1].Line != 3 || !strings.Contains(res[1].Error, "traits.n") || res[2].Line != 4 {
		t.Fatalf("ndjson invalid results %+v %+v", res[1], res[2])
	}
	var list struct{ Runs []runView }
	e.json("GET", "/v1/runs?status=completed_with_failures", nil, 200, &list)
	if len(list.Runs) != 2 || list.Runs[0].ID != nd.ID {
		t.Fatalf("list %+v", list.Runs)
	}
	e.json("GET", "/v1/runs?status=succeeded", nil, 200, &list)
	if len(list.Runs) != 0 {
		t.Fatalf("succeeded runs %+v", list.Runs)
	}
}

func TestRetrySendsTheSameMessageIDs(t *testing.T) {
	e := start(t, segmenttest.Options{}, serve.Config{Token: testToken, WriteKey: testWriteKey, Batch: 1, MaxAttempts: 1})
	// Three of the ten requests are refused (permanently): three failed items.
	e.seg.Script(segmenttest.Response{Status: 400}, segmenttest.Response{Status: 400}, segmenttest.Response{Status: 400})
	var items []any
	for i := range 10 {
		items = append(items, map[string]any{"id": fmt.Sprintf("u%d", i)})
	}
	var first struct {
		Run     runView
		Results []resultLine
	}
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": items}, 200, &first)
	if first.Run.Counts.Failed != 3 || first.Run.Counts.OK != 7 {
		t.Fatalf("first run %+v", first.Run)
	}
	failedIDs := map[string]int64{}
	for _, r := range first.Results {
		if r.Status == "failed" {
			failedIDs[r.MessageID] = r.Index
		}
	}
	var retry struct {
		Run     runView
		Results []resultLine
	}
	e.json("POST", "/v1/runs/"+first.Run.ID+"/retry?wait=true", nil, 200, &retry)
	if retry.Run.Status != "succeeded" || retry.Run.RetryOf != first.Run.ID || retry.Run.Read != 3 || len(retry.Results) != 3 {
		t.Fatalf("retry %+v %+v", retry.Run, retry.Results)
	}
	for _, r := range retry.Results {
		if idx, ok := failedIDs[r.MessageID]; !ok || idx != r.Index || r.Status != "ok" {
			t.Fatalf("retried %+v: not one of the failed items under its messageId", r)
		}
	}
	st := e.seg.Stats()
	if st.Unique != 10 || st.Duplicates != 0 {
		t.Fatalf("segmenttest saw %d messageIds (%d duplicates); want 10, 0", st.Unique, st.Duplicates)
	}
	delivered := e.seg.Delivered()
	for id := range failedIDs {
		if delivered[id] != 1 {
			t.Errorf("messageId %s delivered %d times", id, delivered[id])
		}
	}
	// A finished run with nothing failed has nothing to retry; the retry of an unfinished one waits.
	code, b, _ := e.do("POST", "/v1/runs/"+retry.Run.ID+"/retry", "", nil)
	if c, _ := errorBody(t, b); code != 409 || c != "nothing_to_retry" {
		t.Fatalf("retry of a succeeded run = %d %s", code, b)
	}
	// The retry of a run that sent with its own key needs that key again.
	var own struct{ Run runView }
	e.seg.Script(segmenttest.Response{Status: 400})
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": items[:1]}, 200, &own, "X-Segment-Write-Key", "wk-own-98765")
	code, b, _ = e.do("POST", "/v1/runs/"+own.Run.ID+"/retry", "", nil)
	if c, _ := errorBody(t, b); code != 409 || c != "different_write_key" {
		t.Fatalf("retry with another key = %d %s", code, b)
	}
	var ok struct{ Run runView }
	e.json("POST", "/v1/runs/"+own.Run.ID+"/retry?wait=true", nil, 200, &ok, "X-Segment-Write-Key", "wk-own-98765")
	if ok.Run.Status != "succeeded" {
		t.Fatalf("retry with its key %+v", ok.Run)
	}
}

func TestCancel(t *testing.T) {
	// One part, one request at a time: the run takes 2.5 s, cancelled early.
	e := start(t, segmenttest.Options{Latency: 50 * time.Millisecond}, serve.Config{Token: testToken, WriteKey: testWriteKey, Batch: 1, Workers: 1, Parts: 1})
	var items []any
	for i := range 50 {
		items = append(items, map[string]any{"id": fmt.Sprintf("u%d", i)})
	}
	var created struct{ ID string }
	e.json("POST", "/v1/runs", map[string]any{"items": items}, 202, &created)
	for len(e.results(created.ID, "")) == 0 { // mid-way: some items are done
		time.Sleep(10 * time.Millisecond)
	}
	var r runView
	e.json("POST", "/v1/runs/"+created.ID+"/cancel", nil, 200, &r)
	if r.Status != "cancelled" || r.Counts.Failed+r.Counts.OK != 50 || r.Counts.OK == 0 || r.Counts.Failed == 0 || r.Error == nil {
		t.Fatalf("cancelled run %+v\n%s", r, e.logs)
	}
	res := e.results(created.ID, "?status=failed")
	if len(res) != int(r.Counts.Failed) || !strings.Contains(res[len(res)-1].Error, "not sent: run cancelled") {
		t.Fatalf("failed results %+v", res[len(res)-1])
	}
	code, b, _ := e.do("POST", "/v1/runs/"+created.ID+"/cancel", "", nil)
	if c, _ := errorBody(t, b); code != 409 || c != "already_finished" {
		t.Fatalf("second cancel = %d %s", code, b)
	}
}

func TestEmptyRun(t *testing.T) {
	e := start(t, segmenttest.Options{}, serve.Config{Token: testToken, WriteKey: testWriteKey})
	var got struct {
		Run     runView
		Results []resultLine
	}
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": []any{}}, 200, &got)
	if got.Run.Status != "succeeded" || got.Run.Read != 0 || len(got.Results) != 0 {
		t.Fatalf("empty run %+v", got)
	}
	code, b, _ := e.do("POST", "/v1/runs?wait=true", "text/csv", strings.NewReader("id,email\n"))
	if code != 200 || !strings.Contains(string(b), `"results":[]`) {
		t.Fatalf("header-only CSV = %d %s", code, b)
	}
}

// TestCancelQueuedRun: a run whose parts wait behind another run's (every
// slot busy) is cancelled at once, every item failed "not sent".
func TestCancelQueuedRun(t *testing.T) {
	e := start(t, segmenttest.Options{Latency: 20 * time.Millisecond}, serve.Config{Token: testToken, WriteKey: testWriteKey,
		Batch: 1, Workers: 1, Parts: 2, MaxRuns: 1, Timings: serve.Timings{Slice: time.Minute}})
	var busy, queued struct{ ID string }
	e.json("POST", "/v1/runs", map[string]any{"items": items(500)}, 202, &busy)
	for len(e.results(busy.ID, "")) == 0 { // both slots taken
		time.Sleep(10 * time.Millisecond)
	}
	e.json("POST", "/v1/runs", map[string]any{"items": items(30)}, 202, &queued)
	var r runView
	e.json("POST", "/v1/runs/"+queued.ID+"/cancel", nil, 200, &r)
	if r.Status != "cancelled" || r.Counts.Failed != 30 || r.Counts.OK != 0 {
		t.Fatalf("cancelled queued run %+v", r)
	}
	for _, l := range e.results(queued.ID, "") {
		if !strings.Contains(l.Error, "not sent: run cancelled") {
			t.Fatalf("result %+v", l)
		}
	}
	e.json("POST", "/v1/runs/"+busy.ID+"/cancel", nil, 200, &r)
}

// TestOrderPerUserMappingAfterItems: a JSON body whose mapping follows its
// items (the user is known only at the end) is still split by user: each
// user's items reach Segment in input order, though parts run at once.
func TestOrderPerUserMappingAfterItems(t *testing.T) {
	e := start(t, segmenttest.Options{Latency: 2 * time.Millisecond, KeepEvents: true},
		serve.Config{Token: testToken, WriteKey: testWriteKey, Batch: 1, Workers: 1, Parts: 8})
	var body strings.Builder
	body.WriteString(`{"items":[`)
	const n, users = 400, 4
	for i := range n {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"who":"user-%d","n":%d}`, i%users, i)
	}
	body.WriteString(`],"mapping":{"userId":"{{item.who}}","traits":{"n":"{{item.n}}"}}}`)
	code, b, _ := e.do("POST", "/v1/runs?wait=true", "application/json", strings.NewReader(body.String()))
	if code != 200 || !strings.Contains(string(b), `"status":"succeeded"`) {
		t.Fatalf("run = %d %.300s", code, b)
	}
	last := map[string]int{}
	for _, ev := range e.seg.Events() {
		v, _ := strconv.Atoi(fmt.Sprint(ev.Traits["n"]))
		if prev, ok := last[ev.UserID]; ok && v <= prev {
			t.Fatalf("user %s: item %d reached Segment after item %d", ev.UserID, v, prev)
		}
		last[ev.UserID] = v
	}
	if len(last) != users {
		t.Fatalf("users seen: %v", last)
	}
}
