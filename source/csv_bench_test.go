package source_test

import (
	"bytes"
	"io"
	"strconv"
	"testing"

	"github.com/segloop/segloop/source"
)

// traitsInput is n CSV rows with a JSON traits column, as warehouse exports have.
func traitsInput(n int) []byte {
	var b bytes.Buffer
	b.WriteString("id,email,name,plan,traits\n")
	for i := range n {
		s := strconv.Itoa(i)
		b.WriteString("u" + s + ",user" + s + `@example.com,Grace Hopper,pro,"{""company"":""Acme"",""seats"":` + strconv.Itoa(i%500) + `,""beta"":true,""tags"":[""a"",""b""]}"` + "\n")
	}
	return b.Bytes()
}

// BenchmarkReadCSV reads CSV rows of two shapes: one column per trait
// (users) and a JSON traits column (traits).
func BenchmarkReadCSV(b *testing.B) {
	const n = 10_000
	for _, in := range []struct {
		name string
		data []byte
	}{{"users", input(source.CSV, n)}, {"traits", traitsInput(n)}} {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				r, err := source.Open(bytes.NewReader(in.data), source.CSV, source.Options{})
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
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}
