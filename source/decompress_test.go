package source_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/segloop/segloop/source"
)

func gzipped(t testing.TB, parts ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, p := range parts { // one gzip member each
		w := gzip.NewWriter(&b)
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func zstded(t testing.TB, data string) []byte {
	t.Helper()
	// A small window makes small blocks, so even a small input has many and
	// a fault in the middle leaves whole blocks before it.
	w, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(4<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll([]byte(data), nil)
}

// ndjsonRows is n JSON Lines items with ids 0..n-1.
func ndjsonRows(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"u%d","n":%d}`+"\n", i, i)
	}
	return b.String()
}

func csvRows(n int) string {
	var b strings.Builder
	b.WriteString("id,email\n")
	for i := range n {
		fmt.Fprintf(&b, "u%d,u%d@example.com\n", i, i)
	}
	return b.String()
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// openFile opens path in the format its name tells, as the command does.
func openFile(t *testing.T, path string) source.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	format, err := source.FormatOf(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := source.Open(f, format, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func checkIDs(t *testing.T, recs []source.Record, n int) {
	t.Helper()
	if len(recs) != n {
		t.Fatalf("got %d records, want %d", len(recs), n)
	}
	for i, rec := range recs {
		if rec.Err != nil {
			t.Fatalf("record %d: %v", i, rec.Err)
		}
		if want := fmt.Sprintf("u%d", i); rec.Map()["id"] != want {
			t.Fatalf("record %d: id %v, want %s", i, rec.Map()["id"], want)
		}
	}
}

func TestCompressedFiles(t *testing.T) {
	const n = 2000
	cases := []struct {
		name string
		data []byte
	}{
		{"users.csv.gz", gzipped(t, csvRows(n))},
		{"users.csv.zst", zstded(t, csvRows(n))},
		{"users.ndjson.zst", zstded(t, ndjsonRows(n))},
		{"users.ndjson.gz", gzipped(t, ndjsonRows(n))},
		{"users.jsonl.gz", gzipped(t, ndjsonRows(n/2), ndjsonRows(n)[len(ndjsonRows(n/2)):])}, // two members
		{"users.ndjson", zstded(t, ndjsonRows(n))},                                            // detected by content, not name
		{"users.csv", []byte(csvRows(n))},                                                     // plain
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, err := readAll(t, openFile(t, writeFile(t, c.name, c.data)))
			if err != nil {
				t.Fatal(err)
			}
			checkIDs(t, recs, n)
		})
	}
}

func TestCompressedJSONArray(t *testing.T) {
	data := gzipped(t, `[{"id":"u0"},`, `{"id":"u1"}]`)
	recs, err := readAll(t, openFile(t, writeFile(t, "users.json.gz", data)))
	if err != nil {
		t.Fatal(err)
	}
	checkIDs(t, recs, 2)
}

// TestGzipPipe reads gzip'd JSON Lines from a pipe, as from a shell's stdin:
// no size, no seeking, the data arriving as the writer writes it.
func TestGzipPipe(t *testing.T) {
	const n = 5000
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	data := gzipped(t, ndjsonRows(n))
	done := make(chan error, 1)
	go func() { // owned: the test waits on done
		_, err := pw.Write(data)
		pw.Close()
		done <- err
	}()
	r, err := source.Open(pr, source.NDJSON, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkIDs(t, recs, n)
}

// bigWindowFrame is a zstd frame whose header asks for a 1 GiB window, holding one
// raw block of "hello\n".
var bigWindowFrame = []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3, 0x31, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o', '\n'}

func TestDecompressFaults(t *testing.T) {
	const n = 3000
	gz := gzipped(t, ndjsonRows(n))
	zs := zstded(t, ndjsonRows(n))
	corrupt := func(b []byte) []byte {
		b = bytes.Clone(b)
		for i := len(b) / 2; i < len(b)/2+64; i++ {
			b[i] ^= 0x5a
		}
		return b
	}
	cases := []struct {
		name  string
		data  []byte
		c     source.Compression
		want  error
		whole bool // every item arrives before the fault (a bad trailer)
	}{
		{"gzip truncated", gz[:len(gz)*2/3], source.Gzip, source.ErrTruncated, false},
		{"gzip trailer truncated", gz[:len(gz)-3], source.Gzip, source.ErrTruncated, true},
		{"gzip corrupt", corrupt(gz), source.Gzip, source.ErrCorrupt, false},
		{"gzip bad checksum", append(bytes.Clone(gz[:len(gz)-8]), 0, 0, 0, 0, gz[len(gz)-4], gz[len(gz)-3], gz[len(gz)-2], gz[len(gz)-1]), source.Gzip, source.ErrCorrupt, true},
		{"gzip trailing garbage", append(bytes.Clone(gz), "this is not gzip data"...), source.Gzip, source.ErrCorrupt, true},
		{"zstd truncated", zs[:len(zs)*2/3], source.Zstd, source.ErrTruncated, false},
		{"zstd corrupt", corrupt(zs), source.Zstd, source.ErrCorrupt, false},
		{"zstd window too large", bigWindowFrame, source.Zstd, source.ErrUnsupported, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := source.Open(bytes.NewReader(c.data), source.NDJSON, source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			recs, err := readAll(t, r)
			var se *source.StreamError
			var de *source.DecompressError
			if !errors.As(err, &se) || !errors.As(err, &de) || !errors.Is(err, c.want) {
				t.Fatalf("got error %v (%T), want a *StreamError wrapping a *DecompressError wrapping %v", err, err, c.want)
			}
			if de.Compression != c.c || de.Offset <= 0 || de.Offset > int64(len(c.data)) {
				t.Errorf("got compression %q offset %d, want %q and an offset in (0, %d]", de.Compression, de.Offset, c.c, len(c.data))
			}
			if !strings.Contains(err.Error(), string(c.c)+" input: ") {
				t.Errorf("message %q does not name the compression", err)
			}
			// What was read before the fault is kept and right; corrupt
			// deflate data may decode to garbage before gzip's checksum
			// catches it, so garbage items may follow.
			good := 0
			for good < len(recs) && recs[good].Err == nil && recs[good].Fields["id"] == fmt.Sprintf("u%d", good) {
				good++
			}
			if good < len(recs) && c.want != source.ErrCorrupt {
				t.Fatalf("record %d: %v %v", good, recs[good].Fields, recs[good].Err)
			}
			if c.whole && len(recs) != n {
				t.Errorf("got %d records before the fault, want all %d", len(recs), n)
			}
			if !c.whole && c.name != "zstd window too large" && (good == 0 || good >= n) {
				t.Errorf("got %d good records before the fault, want some but not all of %d", good, n)
			}
			t.Logf("%d records (%d good), then: %v", len(recs), good, err)
		})
	}
}

// brokenInput yields data and then err.
type brokenInput struct {
	data []byte
	err  error
}

func (f *brokenInput) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestDecompressInputError: an error of the input itself is passed on as the
// input gave it, not mistaken for corrupt data.
func TestDecompressInputError(t *testing.T) {
	gz := gzipped(t, ndjsonRows(2000))
	errDisk := errors.New("disk on fire")
	for _, data := range [][]byte{gz[:len(gz)/2], zstded(t, ndjsonRows(2000))[:100]} {
		r, err := source.Open(&brokenInput{data: data, err: errDisk}, source.NDJSON, source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = readAll(t, r)
		var de *source.DecompressError
		if !errors.Is(err, errDisk) || errors.As(err, &de) {
			t.Fatalf("got %v, want the input's own error", err)
		}
	}
}

func TestDecompress(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		c    source.Compression
		out  string
	}{
		{"empty", nil, source.None, ""},
		{"one byte", []byte{0x1f}, source.None, "\x1f"},
		{"plain", []byte("id\n1\n"), source.None, "id\n1\n"},
		{"gzip", gzipped(t, "a", "b", "c"), source.Gzip, "abc"},
		{"gzip empty", gzipped(t, ""), source.Gzip, ""},
		{"zstd", zstded(t, "hello"), source.Zstd, "hello"},
		{"zstd two frames", append(zstded(t, "hel"), zstded(t, "lo")...), source.Zstd, "hello"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, comp, err := source.Decompress(bytes.NewReader(c.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if comp != c.c || string(got) != c.out {
				t.Errorf("got %q, %q; want %q, %q", comp, got, c.c, c.out)
			}
		})
	}
}

func TestFormatOfCompressed(t *testing.T) {
	cases := []struct {
		path string
		want source.Format
		err  bool
	}{
		{"users.csv.gz", source.CSV, false},
		{"USERS.CSV.GZ", source.CSV, false},
		{"users.tsv.gzip", source.TSV, false},
		{"users.ndjson.zst", source.NDJSON, false},
		{"users.jsonl.zstd", source.NDJSON, false},
		{"users.json.gz", source.JSON, false},
		{"users.parquet", source.Parquet, false},
		{"users.parquet.gz", "", true},
		{"users.gz", "", true},
		{"users.txt.gz", "", true},
	}
	for _, c := range cases {
		got, err := source.FormatOf(c.path)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("FormatOf(%q) = %q, %v; want %q, error %v", c.path, got, err, c.want, c.err)
		}
		if err != nil && !errors.Is(err, source.ErrFormat) {
			t.Errorf("FormatOf(%q): error %v does not wrap ErrFormat", c.path, err)
		}
	}
	if f, err := source.ParseFormat("Parquet"); err != nil || f != source.Parquet {
		t.Errorf("ParseFormat(Parquet) = %q, %v", f, err)
	}
}

// TestDecompressShortFirstLine: a plain stream whose first line is shorter
// than zstd's magic yields its first item before any more bytes arrive.
func TestDecompressShortFirstLine(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	first := make(chan struct{})
	done := make(chan error, 1)
	go func() { // owned: the test waits on done
		_, err := pw.Write([]byte("{}\n"))
		<-first // the rest only once the first item has been read
		if err == nil {
			_, err = pw.Write([]byte(`{"id":"u1"}` + "\n"))
		}
		pw.Close()
		done <- err
	}()
	got := make(chan error, 1)
	go func() { // owned: the test waits on got
		r, err := source.Open(pr, source.NDJSON, source.Options{})
		if err == nil {
			_, err = r.Next()
		}
		got <- err
		close(first)
		if err == nil {
			_, err = r.Next()
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second): // a failure guard, not a wait for timing
		t.Fatal("the first item waited for more input")
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// FuzzDecompress decodes arbitrary bytes: no panic, and any fault is a
// *DecompressError or none.
func FuzzDecompress(f *testing.F) {
	f.Add(gzipped(f, "id\n1\n"))
	f.Add(zstded(f, "id\n1\n"))
	f.Add([]byte("plain"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _, err := source.Decompress(bytes.NewReader(data))
		if err != nil {
			var de *source.DecompressError
			if !errors.As(err, &de) {
				t.Fatalf("got %v (%T)", err, err)
			}
			return
		}
		_, err = io.Copy(io.Discard, r)
		var de *source.DecompressError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("got %v (%T)", err, err)
		}
	})
}
