package source_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/segloop/segloop/source"
)

func TestParquetCorrupt(t *testing.T) {
	type row struct {
		ID   int64  `parquet:"id"`
		Name string `parquet:"name"`
	}
	rows := make([]row, 5000)
	for i := range rows {
		rows[i] = row{ID: int64(i), Name: fmt.Sprintf("name %d", i)}
	}
	data, err := os.ReadFile(writeParquet(t, rows, 1000))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("not parquet", func(t *testing.T) {
		_, err := source.Open(bytes.NewReader([]byte("id,name\n1,a\n")), source.Parquet, source.Options{})
		var se *source.StreamError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "parquet") {
			t.Fatalf("got %v, want a *StreamError about parquet", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		_, err := source.Open(bytes.NewReader(data[:len(data)/2]), source.Parquet, source.Options{})
		var se *source.StreamError
		if !errors.As(err, &se) {
			t.Fatalf("got %v, want a *StreamError", err)
		}
	})
	t.Run("corrupt pages", func(t *testing.T) {
		bad := bytes.Clone(data)
		for i := len(bad) / 2; i < len(bad)/2+200; i++ {
			bad[i] ^= 0xa5
		}
		r, err := source.Open(bytes.NewReader(bad), source.Parquet, source.Options{})
		if err != nil {
			t.Fatal(err) // the footer is intact
		}
		recs, err := readAll(t, r)
		var se *source.StreamError
		if err == nil {
			// the damage may decode to other values: then every row is still counted
			if len(recs) != len(rows) {
				t.Fatalf("got %d rows and no error, want %d", len(recs), len(rows))
			}
			return
		}
		if !errors.As(err, &se) || se.Line != len(recs)+1 {
			t.Fatalf("got %v after %d rows, want a *StreamError at row %d", err, len(recs), len(recs)+1)
		}
		t.Logf("%d rows, then %v", len(recs), err)
	})
}

// FuzzParquet reads mutated Parquet files: the reader must not panic, and
// every row it yields must count.
func FuzzParquet(f *testing.F) {
	type row struct {
		ID    int64             `parquet:"id"`
		Name  *string           `parquet:"name,optional"`
		Tags  []string          `parquet:"tags,list"`
		Attrs map[string]string `parquet:"attrs"`
		At    time.Time         `parquet:"at,timestamp(microsecond)"`
		Price int64             `parquet:"price,decimal(2:18)"`
	}
	rows := []row{{ID: 1, Name: ptr("a"), Tags: []string{"x"}, Attrs: map[string]string{"k": "v"}, At: time.Unix(1, 0), Price: 5}, {ID: 2}}
	data, err := os.ReadFile(writeParquet(f, rows, 1))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)-10])
	f.Add([]byte("PAR1PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := source.Open(bytes.NewReader(data), source.Parquet, source.Options{})
		if err != nil {
			return
		}
		for i := int64(0); ; i++ {
			rec, err := r.Next()
			if err != nil {
				return
			}
			if rec.Index != i || rec.Line != int(i)+1 || (rec.Err == nil) == (rec.Fields == nil) {
				t.Fatalf("record %d: %+v", i, rec)
			}
		}
	})
}

// TestParquetHostileMetadata: a footer declaring more elements than it
// holds is refused before the decoder sizes a slice by the count.
func TestParquetHostileMetadata(t *testing.T) {
	file := func(footer []byte) []byte {
		b := append([]byte("PAR1"), footer...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(footer)))
		return append(b, "PAR1"...)
	}
	cases := map[string][]byte{
		// FileMetaData.schema (field 2, a list of structs) claiming 2^31-1 elements
		"huge list": file([]byte{0x29, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07}),
		// a string field claiming 2^31-1 bytes
		"huge string":           file([]byte{0x18, 0xff, 0xff, 0xff, 0xff, 0x07}),
		"footer past the start": append([]byte("PAR1"), 0xff, 0xff, 0xff, 0x00, 'P', 'A', 'R', '1'),
		"no magic":              []byte("PAR1 and then no parquet at all"),
	}
	for name, data := range cases {
		_, err := source.Open(bytes.NewReader(data), source.Parquet, source.Options{})
		var se *source.StreamError
		if !errors.As(err, &se) {
			t.Errorf("%s: got %v, want a *StreamError", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}

// TestParquetHostilePage: a page header declaring a 1 GiB page is refused
// before the decoder allocates it; the rows before its row group are read.
func TestParquetHostilePage(t *testing.T) {
	type row struct {
		ID int64 `parquet:"id"`
	}
	rows := make([]row, 20)
	for i := range rows {
		rows[i].ID = int64(i)
	}
	path := writeParquet(t, rows, 10) // two row groups
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	off := f.Metadata().RowGroups[1].Columns[0].MetaData.DataPageOffset
	var proto thrift.CompactProtocol
	r := proto.NewReaderFromBytes(data[off:])
	var h format.PageHeader
	if err := thrift.NewDecoder(r).Decode(&h); err != nil {
		t.Fatal(err)
	}
	h.UncompressedPageSize = 1 << 30
	hdr, err := thrift.Marshal(&proto, &h)
	if err != nil {
		t.Fatal(err)
	}
	// Splice the longer header in, and grow the chunk in the footer to match.
	meta := f.Metadata()
	meta.RowGroups[1].Columns[0].MetaData.TotalCompressedSize += int64(len(hdr) - r.BytesRead())
	footer, err := thrift.Marshal(&proto, meta)
	if err != nil {
		t.Fatal(err)
	}
	footerLen := int64(binary.LittleEndian.Uint32(data[len(data)-8:]))
	bad := append(bytes.Clone(data[:off]), hdr...)
	bad = append(bad, data[off+int64(r.BytesRead()):int64(len(data))-8-footerLen]...)
	bad = binary.LittleEndian.AppendUint32(append(bad, footer...), uint32(len(footer)))
	bad = append(bad, "PAR1"...)
	recs, err := readAll(t, must(source.Open(bytes.NewReader(bad), source.Parquet, source.Options{})))
	var se *source.StreamError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "row group 1") || !strings.Contains(err.Error(), "declares 1073741824 bytes") || len(recs) != 10 {
		t.Fatalf("got %d rows, then %v; want 10 rows and a *StreamError about row group 1", len(recs), err)
	}
	t.Log(err)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
