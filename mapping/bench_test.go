package mapping_test

import (
	"io"
	"runtime"
	"runtime/metrics"
	"strconv"
	"testing"

	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/source"
)

// rowGen generates a CSV of n user rows on the fly, so no big file is needed.
type rowGen struct {
	n, i int
	buf  []byte
	off  int
}

func newRowGen(n int) *rowGen {
	return &rowGen{n: n, buf: []byte("id,email,first_name,last_name,plan,seats,signed_up,_status\n")}
}

func (g *rowGen) Read(p []byte) (int, error) {
	for g.off == len(g.buf) {
		if g.i == g.n {
			return 0, io.EOF
		}
		g.buf, g.off = g.buf[:0], 0
		for k := 0; k < 64 && g.i < g.n; k, g.i = k+1, g.i+1 {
			g.buf = append(g.buf, 'u')
			g.buf = strconv.AppendInt(g.buf, int64(g.i), 10)
			g.buf = append(g.buf, ",user"...)
			g.buf = strconv.AppendInt(g.buf, int64(g.i), 10)
			g.buf = append(g.buf, "@example.com,Ada,\"Love, lace\",pro,"...)
			g.buf = strconv.AppendInt(g.buf, int64(g.i%500), 10)
			g.buf = append(g.buf, ",2025-01-03T09:00:00Z,\n"...)
		}
	}
	n := copy(p, g.buf[g.off:])
	g.off += n
	return n, nil
}

// BenchmarkCSVMap streams a generated CSV through the CSV reader and the
// default mapping, reporting time and allocations per row and the peak live
// heap seen (sampled every 4096 rows).
func BenchmarkCSVMap(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		b.Run(strconv.Itoa(rows)+"rows", func(b *testing.B) {
			b.ReportAllocs()
			sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
			var peak uint64
			var ms0, ms1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			for b.Loop() {
				r, err := source.NewCSVReader(newRowGen(rows), source.Options{})
				if err != nil {
					b.Fatal(err)
				}
				m := mapping.Default().ForHeader(r.Header())
				for n := 0; ; n++ {
					rec, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil || rec.Err != nil {
						b.Fatal(err, rec.Err)
					}
					id, err := m.Apply(mapping.Env{Row: rec.Cells, Index: rec.Index})
					if err != nil || id.UserID == "" {
						b.Fatal(err, id)
					}
					if n%4096 == 0 {
						metrics.Read(sample)
						peak = max(peak, sample[0].Value.Uint64())
					}
				}
			}
			runtime.ReadMemStats(&ms1)
			total := float64(b.N) * float64(rows)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/row")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/row")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

// BenchmarkApplyTemplate maps one CSV-like item with the users.map.json shape.
func BenchmarkApplyTemplate(b *testing.B) {
	m, err := mapping.Parse([]byte(`{"userId": "{{item.id}}", "email": "{{item.email | lower}}",
		"name": "{{item.first_name}} {{item.last_name}}", "timestamp": "{{item.signed_up}}",
		"traits": {"plan": "{{item.plan}}", "seats": "{{item.seats | int}}", "company": "Acme"}}`))
	if err != nil {
		b.Fatal(err)
	}
	item := map[string]any{"id": "u1", "email": "Ada@Example.com", "first_name": "Ada", "last_name": "Lovelace",
		"plan": "pro", "seats": "12", "signed_up": "2025-01-03T09:00:00Z"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Apply(mapping.Env{Item: item}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyDefault maps the same item with the default mapping.
func BenchmarkApplyDefault(b *testing.B) {
	item := map[string]any{"id": "u1", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
		"plan": "pro", "seats": "12", "signed_up": "2025-01-03T09:00:00Z"}
	m := mapping.Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Apply(mapping.Env{Item: item}); err != nil {
			b.Fatal(err)
		}
	}
}
