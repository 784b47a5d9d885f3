package source

import (
	"errors"
	"fmt"
	"io"
)

// Record is one input item: a decoded object (Fields), or a row of cells
// under a header (Header and Cells), as a CSV reader gives it.
type Record struct {
	// Index is the item's 0-based position; every item counts, bad ones too,
	// and indexes strictly increase. Blank lines are not items.
	Index int64
	// Line is the 1-based line the item starts on.
	Line int
	// Fields holds a decoded object: a JSON item with numbers as
	// json.Number, or any reader's typed values keyed by name. It is nil for
	// a row (see Header and Cells) and when Err is set.
	Fields map[string]any
	// Header names the columns of a row: Cells[i] is the value of column
	// Header[i]. Every row of one reader shares the same slice (compare it
	// by identity to resolve column names once per header); callers must not
	// modify it. It is nil for an object item.
	Header []string
	// Cells holds a row's cells as read, every cell a string, empty cells
	// included as "". A row shorter than its header (accepted with
	// Options.AllowShortRows) has its missing trailing cells absent. For a
	// row with Err set it holds the cells read (as far as they could be
	// parsed), so failed rows can be written back in the input's own format.
	// The strings stay valid after later calls to Next.
	Cells []string
	// Raw holds a JSON item's bytes, or a CSV row's bytes when the row could
	// not be parsed into cells or holds invalid UTF-8. It is nil for an item
	// skipped as larger than MaxItemBytes. The caller owns it: it stays valid
	// after later calls to Next.
	Raw []byte
	// Err is this item's error, an *ItemError; reading goes on after it.
	Err error
}

// Map returns the item as one map: Fields as it is, or for a row a new map of
// Header[i] to Cells[i] (missing trailing cells absent). It is nil when Err
// is set. A row costs a map per call: readers of rows should index Cells by
// column instead.
func (r *Record) Map() map[string]any {
	if r.Err != nil || r.Fields != nil || r.Header == nil {
		return r.Fields
	}
	m := make(map[string]any, len(r.Cells))
	for i, cell := range r.Cells {
		if i < len(r.Header) {
			m[r.Header[i]] = cell
		}
	}
	return m
}

// Reader yields the items of one input in order.
type Reader interface {
	// Next returns the next item, io.EOF at the end, or a fatal error (I/O,
	// a JSON array broken mid-stream) after which the reader is done.
	Next() (Record, error)
}

// Open returns a streaming reader of r in format f.
//
// Gzip and zstd input is decompressed on the fly, recognised by its first
// bytes (see Decompress); a fault in it ends reading with a *StreamError
// wrapping a *DecompressError. CSV and TSV readers read the header row before
// Open returns. Parquet needs random access: r must be an *os.File of a
// regular file or have ReadAt and Size methods (see OpenParquet).
func Open(r io.Reader, f Format, opts Options) (Reader, error) {
	switch f {
	case Parquet:
		return OpenParquet(r, opts)
	case CSV, TSV, JSON, NDJSON:
		var err error
		if r, _, err = Decompress(r); err != nil {
			return nil, err
		}
	}
	switch f {
	case CSV, TSV:
		if f == TSV && opts.Delimiter == 0 {
			opts.Delimiter = '\t'
		}
		return NewCSVReader(r, opts)
	case JSON:
		return NewJSONReader(r, opts), nil
	case NDJSON:
		return NewNDJSONReader(r, opts), nil
	}
	return nil, fmt.Errorf("%w %q", ErrFormat, string(f))
}

// Errors wrapped by ItemError, for errors.Is.
var (
	ErrItemTooLarge = errors.New("item too large")
	ErrInvalidUTF8  = errors.New("invalid UTF-8")
	ErrNotObject    = errors.New("not a JSON object")
	ErrFieldCount   = errors.New("more cells than header columns")
	ErrShortRow     = errors.New("fewer cells than header columns")
)

// ItemError describes what is wrong with one item. Reading goes on after it.
type ItemError struct {
	Line   int // 1-based line of the fault
	Column int // 1-based byte column of the fault; 0 if unknown
	Err    error
}

func (e *ItemError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("line %d, column %d: %v", e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}

func (e *ItemError) Unwrap() error { return e.Err }

// StreamError is a fatal error that stops reading: input that cannot be
// resynchronised, such as a JSON array broken mid-stream. Every item before it
// has already been returned.
type StreamError struct {
	Line   int   // 1-based line of the fault
	Offset int64 // byte offset of the fault in the input
	Err    error
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("line %d (byte offset %d): %v", e.Line, e.Offset, e.Err)
}

func (e *StreamError) Unwrap() error { return e.Err }

// HeaderError reports an unusable CSV header row.
type HeaderError struct {
	Column int    // 1-based column; 0 when the whole header is at fault
	Name   string // the column's name as read
	Err    error
}

func (e *HeaderError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("csv header, column %d (%q): %v", e.Column, e.Name, e.Err)
	}
	return fmt.Sprintf("csv header: %v", e.Err)
}

func (e *HeaderError) Unwrap() error { return e.Err }
