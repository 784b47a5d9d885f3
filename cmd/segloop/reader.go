package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/segloop/segloop/internal/safefile"
	"github.com/segloop/segloop/source"
	"github.com/segloop/segloop/source/sqlsource"
)

// inputReader is the run's input as a source of items: a file or stdin in its
// format (decompressed on the fly when it is gzip or zstd), a Parquet file,
// or the rows of a database query. It counts the bytes read, for the
// progress display, and notes whether it was read to its end, for the
// summary. Close must be called.
type inputReader struct {
	source.Reader
	name  string       // for messages: the path, "stdin", or the database URL without its password
	size  int64        // the bytes to read; 0 when unknown (a stream, a query)
	read  atomic.Int64 // the bytes read so far: of a compressed input, the compressed bytes
	atEnd atomic.Bool
	close func()
}

// Next is source.Reader's Next, noting the end.
func (r *inputReader) Next() (source.Record, error) {
	rec, err := r.Reader.Next()
	if errors.Is(err, io.EOF) {
		r.atEnd.Store(true)
	}
	return rec, err
}

// Close releases the input (ends a query, closes a file).
func (r *inputReader) Close() { r.close() }

// openReader opens the input that f names and adds its files to files. A
// missing file, a database that refuses the connection or the query, and
// input that must be a regular file (Parquet) but is not are usage errors
// (exit 2); input that cannot be read as its format aborts (exit 3).
func openReader(ctx context.Context, f *importFlags, stdin io.Reader, files *safefile.Set) (*inputReader, error) {
	if f.query != nil {
		return openQuery(ctx, f, files)
	}
	name := displayName(f.file)
	if f.format == source.Parquet && f.file != "-" {
		// Checked before opening: a FIFO would wait for a writer first.
		if st, err := os.Stat(f.file); err == nil && !st.Mode().IsRegular() {
			return nil, usageError("import: %s: %v", name, source.ErrNotSeekable)
		}
	}
	in, err := openInput(ctx, f.file, stdin, files)
	if err != nil {
		if errors.Is(err, errInterrupted) {
			return nil, withCode(exitInterrupted, fmt.Errorf("import: %s: %w before it had a writer", name, err))
		}
		return nil, usageError("import: %v", err)
	}
	r := &inputReader{name: name, size: in.size, close: in.close}
	opts := source.Options{Delimiter: f.delimiter, AllowShortRows: f.shortRows}
	if f.format == source.Parquet {
		r.Reader, err = openParquet(in, &r.read, opts)
	} else {
		// Counted below Open: the progress follows the bytes of the file
		// itself, compressed or not.
		r.Reader, err = source.Open(&countingReader{r: in, n: &r.read}, f.format, opts)
	}
	if err != nil {
		r.Close()
		switch {
		case errors.Is(err, source.ErrNotSeekable):
			return nil, usageError("import: %s: %v", name, err)
		case errors.Is(err, errInterrupted):
			return nil, withCode(exitInterrupted, fmt.Errorf("import: %s: %w", name, err))
		}
		return nil, withCode(exitAborted, fmt.Errorf("import: %s: %w", name, err))
	}
	return r, nil
}

// openParquet reads the input as a Parquet file, which must be a regular
// file (it is read at random offsets): a file named on the command line, or
// stdin redirected from one.
func openParquet(in *input, read *atomic.Int64, opts source.Options) (source.Reader, error) {
	if in.file == nil {
		return nil, source.ErrNotSeekable
	}
	st, err := in.file.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, source.ErrNotSeekable
	}
	return source.NewParquetReader(countingReaderAt{r: in.file, n: read}, st.Size(), opts)
}

// openQuery connects to the database, starts the query and adds its files
// (an SQLite database, a --query @FILE) to files. Every database error is a
// usage error (exit 2) whose message names the database without its
// password and keeps the server's own words.
func openQuery(ctx context.Context, f *importFlags, files *safefile.Set) (*inputReader, error) {
	q := *f.query
	if f.queryFile != "" {
		if err := files.InputPath("--query", f.queryFile); err != nil {
			return nil, usageError("import: --query: %v", err)
		}
	}
	rows, err := sqlsource.Open(ctx, q, source.Options{})
	if err != nil {
		if errors.Is(context.Cause(ctx), errInterrupted) {
			return nil, withCode(exitInterrupted, fmt.Errorf("import: %s: %w", q.Redacted(), errInterrupted))
		}
		return nil, usageError("import: %v", err)
	}
	if file, ok := q.File(); ok {
		if err := files.InputPath("the input", file); err != nil {
			rows.Close()
			return nil, usageError("import: %v", err)
		}
	}
	return &inputReader{Reader: rows, name: q.Redacted(), close: func() { rows.Close() }}, nil
}

// displayName is the input's name in messages.
func displayName(file string) string {
	if file == "-" {
		return "stdin"
	}
	return file
}

// countingReader counts the bytes read through it into n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countingReaderAt counts the bytes read through it into n.
type countingReaderAt struct {
	r io.ReaderAt
	n *atomic.Int64
}

func (c countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}
