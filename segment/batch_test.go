package segment_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/segloop/segloop/segment"
)

func TestAppendBatch(t *testing.T) {
	sentAt := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	tests := []struct {
		name   string
		events [][]byte
		want   string
	}{
		{"empty", nil, `{"batch":[],"sentAt":"2024-01-02T03:04:05.123456789Z","context":{"library":{"name":"segloop","version":"` + segment.Version + `"}}}`},
		{"two", [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)},
			`{"batch":[{"a":1},{"b":2}],"sentAt":"2024-01-02T03:04:05.123456789Z","context":{"library":{"name":"segloop","version":"` + segment.Version + `"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := segment.AppendBatch(nil, tt.events, sentAt)
			if string(got) != tt.want {
				t.Errorf("AppendBatch = %s, want %s", got, tt.want)
			}
			if bound := segment.BatchOverhead + sumCost(tt.events); len(got) > bound {
				t.Errorf("len = %d over bound %d", len(got), bound)
			}
		})
	}
	// The longest sentAt (nanoseconds, year 9999) still fits BatchOverhead.
	longest := segment.AppendBatch(nil, nil, time.Date(9999, 12, 31, 23, 59, 59, 123456789, time.UTC))
	if len(longest) != segment.BatchOverhead {
		t.Errorf("empty batch with longest sentAt is %d bytes, BatchOverhead %d", len(longest), segment.BatchOverhead)
	}
}

func sumCost(events [][]byte) int {
	n := 0
	for _, e := range events {
		n += len(e) + 1
	}
	return n
}

// event returns a valid JSON object of exactly n bytes (n >= 8).
func event(n int) []byte {
	b := append([]byte(`{"x":"`), bytes.Repeat([]byte{'y'}, n-8)...)
	return append(b, `"}`...)
}

func TestPackerBytes(t *testing.T) {
	const evLen = 10000
	room := segment.MaxBatchBytes - segment.BatchOverhead // bytes for events and commas
	full := room / (evLen + 1)                            // 10,000-byte events that fit
	rest := room - full*(evLen+1)                         // bytes left after them
	tests := []struct {
		name    string
		last    int // size of the final event after `full` big ones
		wantFit bool
	}{
		{"just under", rest - 2, true},
		{"exactly at", rest - 1, true},
		{"one over", rest, false},
	}
	sentAt := time.Date(2024, 1, 2, 3, 4, 5, 999999999, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := segment.NewPacker(0, 0)
			for i := range full {
				if !p.Add(event(evLen)) {
					t.Fatalf("event %d did not fit", i)
				}
			}
			if got := p.Add(event(tt.last)); got != tt.wantFit {
				t.Fatalf("Add(last %d bytes) = %v, want %v (size %d)", tt.last, got, tt.wantFit, p.Size())
			}
			evs := p.Take()
			body := segment.AppendBatch(nil, evs, sentAt)
			if len(body) > segment.MaxBatchBytes {
				t.Errorf("body %d bytes > MaxBatchBytes", len(body))
			}
			if tt.wantFit && len(body) != segment.MaxBatchBytes-(rest-1-tt.last)-1 {
				// the only slack is the missing comma before the first event.
				t.Errorf("body %d bytes, want %d", len(body), segment.MaxBatchBytes-(rest-1-tt.last)-1)
			}
			if !json.Valid(body) {
				t.Error("body is not valid JSON")
			}
			if p.Len() != 0 || p.Size() != segment.BatchOverhead {
				t.Errorf("after Take: Len %d, Size %d", p.Len(), p.Size())
			}
		})
	}
}

func TestPackerCount(t *testing.T) {
	tests := []struct {
		name      string
		maxEvents int
		want      int
	}{
		{"default is 2500", 0, segment.MaxBatchEvents},
		{"over the limit is clamped", 10000, segment.MaxBatchEvents},
		{"caller's smaller count", 100, 100},
		{"one", 1, 1},
	}
	ev := []byte(`{"type":"identify","userId":"u"}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := segment.NewPacker(tt.maxEvents, 0)
			n := 0
			for p.Add(ev) {
				n++
				if n > 10000 {
					t.Fatal("no bound")
				}
			}
			if n != tt.want || !p.Full() || p.Len() != tt.want {
				t.Errorf("packed %d (Len %d, Full %v), want %d", n, p.Len(), p.Full(), tt.want)
			}
			if got := len(p.Take()); got != tt.want {
				t.Errorf("Take returned %d, want %d", got, tt.want)
			}
			if !p.Add(ev) {
				t.Error("Add after Take failed")
			}
		})
	}
}

func TestPackerStream(t *testing.T) {
	// 5,000 events of 300 bytes: 2,500 of them would be 752,500 bytes, so
	// the byte bound cuts first, at about 1,577 events per batch.
	p := segment.NewPacker(0, 0)
	var batches [][][]byte
	ev := event(300)
	for range 5000 {
		if !p.Add(ev) {
			batches = append(batches, p.Take())
			if !p.Add(ev) {
				t.Fatal("event does not fit an empty packer")
			}
		}
		if p.Full() {
			batches = append(batches, p.Take())
		}
	}
	if p.Len() > 0 {
		batches = append(batches, p.Take())
	}
	total := 0
	for i, b := range batches {
		total += len(b)
		if body := segment.AppendBatch(nil, b, time.Now()); len(body) > segment.MaxBatchBytes || len(b) > segment.MaxBatchEvents {
			t.Errorf("batch %d: %d events, %d bytes", i, len(b), len(body))
		}
	}
	if total != 5000 || len(batches) != 4 {
		t.Errorf("%d events in %d batches, want 5000 in 4", total, len(batches))
	}
	if big := segment.NewPacker(1, 100); big.Add(event(200)) {
		t.Error("an event too large for an empty batch was accepted")
	}
}

func BenchmarkAppendBatch(b *testing.B) {
	evs := make([][]byte, 500)
	for i := range evs {
		evs[i] = event(300)
	}
	buf := make([]byte, 0, 200000)
	sentAt := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		buf = segment.AppendBatch(buf[:0], evs, sentAt)
	}
	b.SetBytes(int64(len(buf)))
}
