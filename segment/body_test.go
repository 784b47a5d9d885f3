package segment

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBodyIsAppendBatch reads batch bodies made from the caller's events, in
// reads of several sizes and through several readers at once (GetBody
// rewinds), and wants exactly AppendBatch's bytes.
func TestBodyIsAppendBatch(t *testing.T) {
	sentAt := time.Date(2024, 1, 2, 3, 4, 5, 123000000, time.UTC)
	long := `{"type":"identify","userId":"u","traits":{"x":"` + strings.Repeat("y", 9000) + `"}}`
	for _, n := range []int{0, 1, 2, 3, 250} {
		events := make([][]byte, n)
		for i := range events {
			events[i] = []byte(fmt.Sprintf(`{"type":"identify","userId":"u%d"}`, i))
			if i%50 == 7 {
				events[i] = []byte(long)
			}
		}
		want := AppendBatch(nil, events, sentAt)
		for _, chunk := range []int{1, 7, 4096, 1 << 20} {
			t.Run(fmt.Sprintf("events=%d/read=%d", n, chunk), func(t *testing.T) {
				b := getReqBody()
				b.batch(events, sentAt)
				if b.size != len(want) {
					t.Errorf("size %d, want %d", b.size, len(want))
				}
				var wg sync.WaitGroup
				for range 3 {
					r := b.reader()
					wg.Go(func() {
						defer r.Close()
						got, err := readIn(r, chunk)
						if err != nil || !bytes.Equal(got, want) {
							t.Errorf("read %d bytes (%v), want AppendBatch's %d", len(got), err, len(want))
						}
					})
				}
				wg.Wait()
				b.release()
			})
		}
	}
}

// readIn reads r to its end in reads of at most chunk bytes.
func readIn(r io.Reader, chunk int) ([]byte, error) {
	var out []byte
	p := make([]byte, chunk)
	for {
		n, err := r.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// TestBodyForgetsEvents: a body back in the pool holds no reference to the
// caller's events (they may pin large buffers), and a reader closed before the
// body is reused never reads it again.
func TestBodyForgetsEvents(t *testing.T) {
	b := getReqBody()
	b.batch([][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)}, time.Unix(0, 0))
	r := b.reader()
	b.release() // the client is done; the transport's reader is not
	if b.parts[1] == nil {
		t.Fatal("the body forgot its events while a reader was open")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for i, p := range b.parts[:cap(b.parts)] {
		if p != nil {
			t.Errorf("part %d = %q kept after the last release", i, p)
		}
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("Read after Close = %d, %v; want 0, EOF", n, err)
	}
}

// TestBodyConnReadFrom: a body copied to the connection through the pooled
// buffer arrives whole, as the transport hands it (a LimitedReader).
func TestBodyConnReadFrom(t *testing.T) {
	client, server := net.Pipe()
	want := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80 KB: several buffers
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(server)
		got <- b
	}()
	n, err := bodyConn{client}.ReadFrom(io.LimitReader(bytes.NewReader(want), int64(len(want))))
	client.Close()
	if b := <-got; err != nil || n != int64(len(want)) || !bytes.Equal(b, want) {
		t.Errorf("ReadFrom = %d, %v; %d bytes arrived, want %d intact", n, err, len(b), len(want))
	}
}
