package source_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/segloop/segloop/source"
)

// fuzzRead drains a reader over data and checks the invariants every reader
// keeps: indexes strictly increase from 0, lines never decrease (strictly
// increase when strict), item errors are *ItemError, and reading ends.
func fuzzRead(t *testing.T, f source.Format, data []byte, strict bool) {
	opts := source.Options{MaxItemBytes: 256}
	r, err := source.Open(bytes.NewReader(data), f, opts)
	if err != nil {
		return
	}
	var want int64
	last := 0
	for n := 0; ; n++ {
		if n > len(data)+1 {
			t.Fatalf("more records than input bytes")
		}
		rec, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			var se *source.StreamError
			if !errors.As(err, &se) {
				t.Fatalf("fatal error %v is not a *StreamError", err)
			}
			return
		}
		if rec.Index != want {
			t.Fatalf("got index %d, want %d", rec.Index, want)
		}
		want++
		if rec.Line < last || (strict && rec.Line == last) || rec.Line < 1 {
			t.Fatalf("record %d: line %d after line %d", rec.Index, rec.Line, last)
		}
		last = rec.Line
		if rec.Err != nil {
			var ie *source.ItemError
			if !errors.As(rec.Err, &ie) {
				t.Fatalf("item error %v is not an *ItemError", rec.Err)
			}
			if rec.Fields != nil {
				t.Fatalf("fields %v with error %v", rec.Fields, rec.Err)
			}
		} else if rec.Map() == nil {
			t.Fatalf("record %d: no fields and no error", rec.Index)
		}
	}
}

func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"id,email\nu1,a@x\n", "\xef\xbb\xbfid,n\r\nu1,\"a\nb\"\r\n", "id,a\nu1,x\"y\nu2,\"z\"w\n",
		"id,a\n\"u1\",\"open\nu2,x\n", "a,b,c\n1\n1,2,3,4\n", "id\n\xff\n", "id;a\nu;\"x;\"\"y\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, source.CSV, data, true) })
}

func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`[{"id":"u1"},{"id":2}]`, "[\n1,\n\"s\",\n{}\n]", `[{"id":"u1"},{"id" "u2"}]`, `[{"a":[1,{"b":null}]}]`,
		`[`, `{}`, `[{}] x`, "[{\"id\":\"\xff\"}]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, source.JSON, data, false) })
}

func FuzzNDJSON(f *testing.F) {
	for _, s := range []string{
		"{\"id\":\"u1\"}\n{\"id\":2}\n", "\n\n{}\r\n[1]\n{\"a\":\n", "{} {}\n{\"a\":\"\xfe\"}", "  \n\t\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, source.NDJSON, data, true) })
}
