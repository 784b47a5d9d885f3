package source

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression names how an input is compressed, as told by its first bytes.
type Compression string

// The compressions Decompress recognises. None is the zero value.
const (
	None Compression = ""
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

// MaxZstdWindow bounds the window a zstd frame may ask for, and so the memory
// its decoder holds: 128 MiB, the zstd command's own default limit when
// decompressing. Every compression level up to 19 and --long up to 27 stay
// within it; a frame asking for more is refused with a *DecompressError.
const MaxZstdWindow = 128 << 20

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Errors wrapped by *DecompressError, for errors.Is.
var (
	ErrTruncated   = errors.New("compressed stream ends early")
	ErrCorrupt     = errors.New("corrupt compressed data")
	ErrUnsupported = errors.New("unsupported compressed data")
)

// DecompressError reports compressed input that cannot be decoded further:
// a stream cut short (ErrTruncated), corrupt data (ErrCorrupt), or a zstd
// frame asking for a window over MaxZstdWindow (ErrUnsupported). Everything decoded before the fault has been delivered.
// Readers of the formats wrap it in their *StreamError.
type DecompressError struct {
	Compression Compression
	// Offset counts the compressed bytes read when the fault was found; the
	// decoder reads ahead, so the fault lies at or before it.
	Offset int64
	Err    error
}

func (e *DecompressError) Error() string {
	return fmt.Sprintf("%s input: %v (after %d compressed bytes)", e.Compression, e.Err, e.Offset)
}

func (e *DecompressError) Unwrap() error { return e.Err }

// Decompress peeks at the first bytes of r and returns a reader of its
// content: gzip (magic 1f 8b; concatenated members are read one after the
// other, as gzip -d does) and zstd (magic 28 b5 2f fd; concatenated and
// skippable frames likewise) are decoded as they are read, anything else is
// passed through unchanged. The extension of a file name plays no part.
//
// Decoding is synchronous, with no goroutine of its own, and holds bounded
// memory: 32 KiB of window for gzip, the frame's window (at most
// MaxZstdWindow, most often 8 MiB or less) for zstd. Nothing needs closing.
// A fault in the compressed data surfaces from Read as a *DecompressError;
// an error of r itself is returned as r gave it.
func Decompress(r io.Reader) (io.Reader, Compression, error) {
	br := bufio.NewReaderSize(r, 32<<10)
	// Peek no further than needed, so that a slow stream whose first line
	// is short (a pipe fed by hand) is not held up waiting for more bytes.
	head, err := br.Peek(1)
	if len(head) == 1 && head[0] == zstdMagic[0] {
		head, err = br.Peek(len(zstdMagic))
	} else if len(head) == 1 && head[0] == gzipMagic[0] {
		head, err = br.Peek(len(gzipMagic))
	}
	if err != nil && err != io.EOF {
		return nil, None, err
	}
	var c Compression
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		c = Gzip
	case bytes.HasPrefix(head, zstdMagic):
		c = Zstd
	default:
		return br, None, nil
	}
	d := &decoder{c: c, src: countReader{r: br}}
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(&d.src)
		if err != nil {
			return nil, c, d.wrap(err)
		}
		d.r = zr
	case Zstd:
		zr, err := zstd.NewReader(&d.src,
			zstd.WithDecoderConcurrency(1), // synchronous: no goroutines to own
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(MaxZstdWindow),
			zstd.WithDecoderMaxMemory(MaxZstdWindow),
		)
		if err != nil {
			return nil, c, d.wrap(err)
		}
		d.r = zr
	}
	return d, c, nil
}

// decoder reads decompressed bytes and turns the decoder's faults into
// *DecompressError.
type decoder struct {
	c   Compression
	r   io.Reader
	src countReader
	err error // sticky
}

func (d *decoder) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.r.Read(p)
	if err != nil {
		if err != io.EOF {
			err = d.wrap(err)
		}
		d.err = err
	}
	return n, err
}

// wrap classifies a decoder error. An error of the underlying reader is
// passed on unchanged.
func (d *decoder) wrap(err error) error {
	if d.src.err != nil && d.src.err != io.EOF && errors.Is(err, d.src.err) {
		return d.src.err
	}
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		err = ErrTruncated
	case errors.Is(err, zstd.ErrWindowSizeExceeded), errors.Is(err, zstd.ErrDecoderSizeExceeded):
		err = fmt.Errorf("%w: a frame needs a window over the %d MiB limit", ErrUnsupported, MaxZstdWindow>>20)
	default:
		err = fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return &DecompressError{Compression: d.c, Offset: d.src.n, Err: err}
}

// countReader counts the bytes read through it and keeps the last error.
type countReader struct {
	r   *bufio.Reader
	n   int64
	err error
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

// ReadByte makes countReader an io.ByteReader, which flate reads from
// directly instead of adding a buffer of its own.
func (c *countReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err != nil {
		c.err = err
		return 0, err
	}
	c.n++
	return b, nil
}
