package segmenttest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/segloop/segloop/segment/segmenttest"
)

// BenchmarkHandlerBatch measures events/s through the Handler: batches of
// 100 identify events, each with a fresh messageId, served in parallel.
func BenchmarkHandlerBatch(b *testing.B) {
	h := segmenttest.NewHandler(segmenttest.Options{})
	// A 100-event batch whose messageIds differ per request by a prefix
	// patched in place: 8 hex digits at a fixed offset of every id.
	const n = 100
	var sb strings.Builder
	sb.WriteString(`{"batch":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"type":"identify","messageId":"00000000-` + strconv.Itoa(1000+i) +
			`","userId":"user-` + strconv.Itoa(i) + `","traits":{"email":"user` + strconv.Itoa(i) +
			`@example.com","name":"Some User","plan":"pro","seats":12}}`)
	}
	sb.WriteString(`],"sentAt":"2024-01-01T00:00:00Z","context":{"library":{"name":"bench"}}}`)
	tmpl := sb.String()
	b.SetBytes(int64(len(tmpl)))
	b.ReportAllocs()
	var seq atomicCounter
	b.RunParallel(func(pb *testing.PB) {
		body := []byte(tmpl)
		var offs []int
		for i := 0; i+8 < len(body); i++ {
			if string(body[i:i+9]) == "00000000-" {
				offs = append(offs, i)
			}
		}
		r := httptest.NewRequest("POST", "/v1/batch", nil)
		r.SetBasicAuth("k", "")
		for pb.Next() {
			id := strconv.FormatUint(uint64(seq.next())|1<<31, 16)
			for _, o := range offs {
				copy(body[o:o+8], id)
			}
			r.Body = nopCloser{strings.NewReader(string(body))}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
	if st := h.Stats(); st.Duplicates != 0 {
		b.Fatalf("duplicates: %d", st.Duplicates)
	}
}

// BenchmarkServerBatch measures events/s end to end over loopback HTTP:
// batches of 100 events from parallel keep-alive clients.
func BenchmarkServerBatch(b *testing.B) {
	srv := segmenttest.NewServer(segmenttest.Options{})
	defer srv.Close()
	const n = 100
	body := batchN("e2e-", n)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest("POST", srv.URL+"/v1/batch", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			req.SetBasicAuth("k", "")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}
