package source_test

import (
	"bytes"
	"io"
	"strconv"
	"testing"

	"github.com/segloop/segloop/source"
)

// input builds n items of format f in memory.
func input(f source.Format, n int) []byte {
	var b bytes.Buffer
	switch f {
	case source.CSV:
		b.WriteString("id,email,name,plan,seats\n")
		for i := range n {
			b.WriteString("u" + strconv.Itoa(i) + ",u" + strconv.Itoa(i) + "@example.com,\"Love, lace\",pro,12\n")
		}
	case source.NDJSON:
		for i := range n {
			b.WriteString(`{"id":"u` + strconv.Itoa(i) + `","email":"a@example.com","name":"Ada","plan":"pro","seats":12}` + "\n")
		}
	case source.JSON:
		b.WriteString("[\n")
		for i := range n {
			if i > 0 {
				b.WriteString(",\n")
			}
			b.WriteString(`{"id":"u` + strconv.Itoa(i) + `","email":"a@example.com","name":"Ada","plan":"pro","seats":12}`)
		}
		b.WriteString("\n]\n")
	}
	return b.Bytes()
}

func BenchmarkRead(b *testing.B) {
	const n = 10_000
	for _, f := range []source.Format{source.CSV, source.NDJSON, source.JSON} {
		data := input(f, n)
		b.Run(string(f), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				r, err := source.Open(bytes.NewReader(data), f, source.Options{})
				if err != nil {
					b.Fatal(err)
				}
				for {
					rec, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil || rec.Err != nil {
						b.Fatal(err, rec.Err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/item")
		})
	}
}
