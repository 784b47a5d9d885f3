package runstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"
)

// The blobs of chunks and result groups: a format byte, then records, each
// a few uvarints and length-prefixed byte strings. Nothing is escaped and
// nothing parsed but lengths, so writing and reading a chunk of thousands
// of items costs about a copy of its bytes.
//
//	chunk:  1, then per item:   index, line, len(error), error, len(data), data
//	group:  1, then per result: index, status code, len(line), line
//	        (in any order: a reader sorts a chunk's results)
//
// A blob of packMin bytes or more is stored packed: format 2, then the
// records S2-compressed (github.com/klauspost/compress/s2, at about a GB/s
// each way). Result lines shrink to about a third, so the database writes
// (its log, then its file) and reads a third of the bytes. Readers take
// both formats.
const (
	blobFormat   = 1
	packedFormat = 2
	packMin      = 4 << 10
)

// pack returns blob, a format-1 blob, as it is to be stored: packed into
// dst's memory when it is large enough to be worth it and compresses, else
// blob itself.
func pack(dst, blob []byte) []byte {
	if len(blob) < packMin || blob[0] != blobFormat {
		return blob
	}
	n := 1 + s2.MaxEncodedLen(len(blob)-1)
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	dst[0] = packedFormat
	enc := s2.Encode(dst[1:], blob[1:])
	if 1+len(enc) >= len(blob) {
		return blob
	}
	return dst[:1+len(enc)]
}

// unpack returns stored blob b as a format-1 blob: b itself, or its
// records decompressed into new memory.
func unpack(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != packedFormat {
		return b, nil
	}
	n, err := s2.DecodedLen(b[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	out := make([]byte, 1+n)
	out[0] = blobFormat
	if _, err := s2.Decode(out[1:], b[1:]); err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return out, nil
}

// appendUnpacked appends stored blob b to dst as a format-1 blob: a copy
// of b, or its records decompressed. Unlike unpack, the result never
// aliases b, which may be the driver's (sql.RawBytes).
func appendUnpacked(dst, b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != packedFormat {
		return append(dst, b...), nil
	}
	n, err := s2.DecodedLen(b[1:])
	if err != nil {
		return dst, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	at := len(dst)
	dst = slices.Grow(dst, 1+n)[:at+1+n]
	dst[at] = blobFormat
	if _, err := s2.Decode(dst[at+1:], b[1:]); err != nil {
		return dst[:at], fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return dst, nil
}

// errCorrupt is wrapped by the decoders for a blob they cannot read.
var errCorrupt = errors.New("runstore: corrupt blob")

// appendItem appends it's record to a chunk blob (started with blobFormat).
func appendItem(b []byte, it Item) []byte {
	b = binary.AppendUvarint(b, uint64(it.Index))
	b = binary.AppendUvarint(b, uint64(it.Line))
	b = binary.AppendUvarint(b, uint64(len(it.Error)))
	b = append(b, it.Error...)
	b = binary.AppendUvarint(b, uint64(len(it.Data)))
	return append(b, it.Data...)
}

// decodeItems calls fn with every item of a chunk blob, in order. The
// items' Data aliases b (or its unpacked copy).
func decodeItems(b []byte, fn func(Item) error) error {
	b, err := unpack(b)
	if err != nil {
		return err
	}
	if len(b) == 0 || b[0] != blobFormat {
		return fmt.Errorf("%w: chunk format %v", errCorrupt, b[:min(len(b), 1)])
	}
	r := reader{b: b[1:]}
	for len(r.b) > 0 {
		it := Item{Index: int64(r.uvarint()), Line: int(r.uvarint())}
		if e := r.bytes(); len(e) > 0 {
			it.Error = string(e)
		}
		it.Data = r.bytes()
		if r.err != nil {
			return r.err
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	return nil
}

// The status codes of result records, and the kinds bit of each (1<<code).
var statusCodes = []string{"ok", "invalid", "failed", "skipped", "unchanged"}

func statusCode(s string) byte {
	for i, st := range statusCodes {
		if st == s {
			return byte(i)
		}
	}
	return 2 // anything else counts as failed
}

// kindsOf is the kinds bit of status s, for a filter: 0 for "" (any).
func kindsOf(s string) int {
	if s == "" {
		return 0
	}
	return 1 << statusCode(s)
}

// appendResult appends r's record to a group blob.
func appendResult(b []byte, r Result) []byte {
	b = binary.AppendUvarint(b, uint64(r.Index))
	b = append(b, statusCode(r.Status))
	b = binary.AppendUvarint(b, uint64(len(r.Line)))
	return append(b, r.Line...)
}

// decodeResults calls fn with every result of a group blob, in order. The
// results' Line aliases b (or its unpacked copy).
func decodeResults(b []byte, fn func(Result) error) error {
	b, err := unpack(b)
	if err != nil {
		return err
	}
	if len(b) == 0 || b[0] != blobFormat {
		return fmt.Errorf("%w: result group format %v", errCorrupt, b[:min(len(b), 1)])
	}
	r := reader{b: b[1:]}
	for len(r.b) > 0 {
		res := Result{Index: int64(r.uvarint())}
		code := r.byte()
		res.Line = r.bytes()
		if r.err != nil {
			return r.err
		}
		if int(code) >= len(statusCodes) {
			return fmt.Errorf("%w: status code %d", errCorrupt, code)
		}
		res.Status = statusCodes[code]
		if err := fn(res); err != nil {
			return err
		}
	}
	return nil
}

// reader reads a blob's fields; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = fmt.Errorf("%w: bad length", errCorrupt), nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = fmt.Errorf("%w: truncated", errCorrupt)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err, r.b = fmt.Errorf("%w: truncated", errCorrupt), nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}
