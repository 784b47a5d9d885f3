package source

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// ErrNotSeekable is returned by OpenParquet for input it cannot read at
// random offsets, such as standard input or a pipe.
var ErrNotSeekable = errors.New("parquet needs a regular file: standard input and pipes cannot be read as Parquet (save the data to a file first)")

// parquetBatch is how many rows are decoded at a time.
const parquetBatch = 128

// ParquetReader streams the rows of a Parquet file, one row group after the
// other and a small batch of rows at a time; the file is never held whole.
// Memory is bounded by the footer (the file's metadata) plus one page of
// each column. Before a row group is decoded its page headers are checked
// against the file and the MaxParquet* limits, so that a damaged file cannot
// make the decoder allocate what it merely declares.
//
// Each row is an item whose Fields hold the row's columns by name, with
// their types kept in the JSON form the mapping reads:
//   - integers, floats and decimals as exact json.Number (a decimal keeps its
//     scale: "12.50"); unsigned integers as unsigned; NaN and ±Inf as the
//     strings "NaN", "Infinity", "-Infinity";
//   - booleans as bool; strings, enums and UUIDs as strings; JSON columns
//     decoded (numbers as json.Number);
//   - timestamps as RFC 3339 in UTC with the digits of their unit
//     (2024-05-01T12:30:00.000Z for milliseconds, 6 digits for micro-, 9 for
//     nanoseconds, 9 for legacy INT96); a timestamp not adjusted to UTC is
//     read as UTC; dates as YYYY-MM-DD; times of day as 15:04:05 with their
//     unit's digits; intervals as {"months","days","milliseconds"};
//   - byte arrays without a string, JSON or decimal annotation (BSON,
//     geometry, plain binary) as standard base64;
//   - nested groups as objects, lists (and bare repeated fields) as arrays,
//     maps as objects keyed by the key's text;
//   - NULL as an absent key; a null list element is nil (JSON null), so
//     elements keep their positions.
//
// Index is the row's 0-based position in the file and Line its 1-based row
// number. A value that cannot be converted (a string column holding invalid
// UTF-8, a JSON column that does not parse) or a row of more than
// MaxItemBytes of values is an item error naming the column; reading goes on.
// A file that cannot be decoded further (a corrupt page) ends reading with a
// *StreamError naming the row reached.
//
// Cells and Raw are nil: a row is written back (to a failed-items file) from
// its Fields, and a row with Err set has none.
// A ParquetReader is not safe for concurrent use; nothing needs closing, and
// the caller keeps ownership of the file.
type ParquetReader struct {
	ra      io.ReaderAt
	size    int64
	meta    *format.FileMetaData
	groups  []parquet.RowGroup
	g       int // next row group
	rows    parquet.Rows
	buf     []parquet.Row
	n, i    int   // rows in buf, next one
	pending error // fault to report once buf is drained
	root    *pqNode
	cols    [][]parquet.Value // per leaf column: the current row's values
	max     int
	index   int64
	err     error // sticky: io.EOF or the fatal error
}

// OpenParquet returns a reader of the Parquet file r: an *os.File of a
// regular file, or anything with ReadAt and Size methods (*bytes.Reader,
// *io.SectionReader). Other readers, standard input among them, give an
// error wrapping ErrNotSeekable.
func OpenParquet(r io.Reader, opts Options) (*ParquetReader, error) {
	switch f := r.(type) {
	case *os.File:
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if !st.Mode().IsRegular() {
			return nil, ErrNotSeekable
		}
		return NewParquetReader(f, st.Size(), opts)
	case interface {
		io.ReaderAt
		Size() int64
	}:
		return NewParquetReader(f, f.Size(), opts)
	}
	return nil, ErrNotSeekable
}

// NewParquetReader reads the footer of the Parquet data of size bytes in ra
// and returns a reader of its rows. A file that is not Parquet, or whose
// footer or schema is broken, is a *StreamError.
func NewParquetReader(ra io.ReaderAt, size int64, opts Options) (*ParquetReader, error) {
	if err := checkFooter(ra, size); err != nil {
		return nil, &StreamError{Line: 1, Err: fmt.Errorf("parquet: %w", err)}
	}
	var f *parquet.File
	err := safely(func() (err error) {
		f, err = parquet.OpenFile(ra, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
		return err
	})
	if err != nil {
		return nil, &StreamError{Line: 1, Err: fmt.Errorf("parquet: %w", err)}
	}
	var root *pqNode
	var leaves int
	err = safely(func() (err error) {
		root, leaves, err = buildSchema(f.Root())
		return err
	})
	if err != nil {
		return nil, &StreamError{Line: 1, Err: fmt.Errorf("parquet schema: %w", err)}
	}
	p := &ParquetReader{
		ra:     ra,
		size:   size,
		meta:   f.Metadata(),
		groups: f.RowGroups(),
		buf:    make([]parquet.Row, parquetBatch),
		root:   root,
		cols:   make([][]parquet.Value, leaves),
		max:    opts.maxItem(),
	}
	return p, nil
}

// Next returns the next row. See ParquetReader for the rules.
func (p *ParquetReader) Next() (Record, error) {
	if p.err != nil {
		return Record{}, p.err
	}
	for p.i == p.n {
		if err := p.fill(); err != nil {
			p.err = err
			return Record{}, err
		}
	}
	row := p.buf[p.i]
	p.i++
	line := int(p.index) + 1
	rec := Record{Index: p.index, Line: line}
	p.index++
	if err := p.split(row); err != nil {
		rec.Err = &ItemError{Line: line, Err: err}
		return rec, nil
	}
	var fields any
	err := safely(func() (err error) {
		fields, _, err = p.root.single(p.cols)
		return err
	})
	if err != nil {
		rec.Err = &ItemError{Line: line, Err: err}
		return rec, nil
	}
	rec.Fields, _ = fields.(map[string]any)
	if rec.Fields == nil {
		rec.Fields = map[string]any{} // a schema without columns
	}
	return rec, nil
}

// fill decodes the next batch of rows, opening the next row group as needed.
func (p *ParquetReader) fill() error {
	for {
		if p.pending != nil {
			return p.pending
		}
		if p.rows == nil {
			if p.g == len(p.groups) {
				return io.EOF
			}
			if p.g < len(p.meta.RowGroups) {
				if err := checkRowGroup(p.ra, p.size, &p.meta.RowGroups[p.g]); err != nil {
					return &StreamError{Line: int(p.index) + 1, Err: fmt.Errorf("parquet row group %d: %w", p.g, err)}
				}
			}
			p.rows = p.groups[p.g].Rows()
			p.g++
		}
		var n int
		err := safely(func() (err error) {
			n, err = p.rows.ReadRows(p.buf)
			return err
		})
		p.n, p.i = n, 0
		if err == nil && n == 0 {
			err = errors.New("the decoder returned no rows") // never loop on it
		}
		if err != nil {
			p.rows.Close()
			p.rows = nil
			if err != io.EOF {
				p.pending = &StreamError{Line: int(p.index) + n + 1, Err: fmt.Errorf("parquet row group %d: %w", p.g-1, err)}
			}
		}
		if n > 0 {
			return nil
		}
	}
}

// split points p.cols at each leaf column's values in row (a row holds its
// values ordered by column) and checks the row's size.
func (p *ParquetReader) split(row parquet.Row) error {
	j, size := 0, 0
	for k := range p.cols {
		start := j
		for j < len(row) && row[j].Column() == k {
			switch v := row[j]; v.Kind() {
			case parquet.ByteArray, parquet.FixedLenByteArray:
				size += len(v.ByteArray())
			default:
				size += 8
			}
			j++
		}
		p.cols[k] = row[start:j]
	}
	if size > p.max {
		return fmt.Errorf("%w: row holds over %d bytes of values", ErrItemTooLarge, p.max)
	}
	return nil
}

// safely runs f, turning a panic of the Parquet decoder on malformed input
// into an error so that a hostile file cannot crash the caller.
func safely(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("malformed parquet data: %v", v)
		}
	}()
	return f()
}
