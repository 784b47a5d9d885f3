package source

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Limits on what a Parquet file may declare, checked before the decoder
// allocates buffers of the declared sizes, so that a damaged or hostile file
// is an error, not gigabytes of memory. Real files stay far below them:
// writers cut pages at about 1 MiB and 20,000 values.
const (
	// MaxParquetFooter bounds the footer (the file's metadata).
	MaxParquetFooter = 64 << 20
	// MaxParquetPage bounds one page, compressed or not.
	MaxParquetPage = 256 << 20
	// MaxParquetPageValues bounds the values of one page.
	MaxParquetPageValues = 1 << 24
)

// checkFooter checks the trailing magic and that the footer's declared
// length fits in the file.
func checkFooter(ra io.ReaderAt, size int64) error {
	if size < 12 {
		return fmt.Errorf("not a Parquet file: %d bytes", size)
	}
	var tail [8]byte
	if _, err := ra.ReadAt(tail[:], size-8); err != nil {
		return fmt.Errorf("reading the footer: %w", err)
	}
	if magic := string(tail[4:]); magic != "PAR1" && magic != "PARE" {
		return errors.New("not a Parquet file (no PAR1 at its end)")
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 || n > MaxParquetFooter {
		return fmt.Errorf("the footer's declared length, %d bytes, does not fit in the file of %d bytes or is over %d MiB", n, size, MaxParquetFooter>>20)
	}
	if string(tail[4:]) == "PARE" {
		return errors.New("encrypted Parquet files are not supported")
	}
	footer := make([]byte, n)
	if _, err := ra.ReadAt(footer, size-8-n); err != nil {
		return fmt.Errorf("reading the footer: %w", err)
	}
	if _, err := thriftCheck(footer); err != nil {
		return fmt.Errorf("footer: %w", err)
	}
	return nil
}

// checkRowGroup walks the page headers of each column chunk of rg: every
// chunk must lie in the file, every page in its chunk, within the limits
// above. It reads the headers only, a few KiB per page.
func checkRowGroup(ra io.ReaderAt, size int64, rg *format.RowGroup) error {
	var buf []byte
	for i := range rg.Columns {
		md := &rg.Columns[i].MetaData
		start := md.DataPageOffset
		if md.DictionaryPageOffset > 0 && md.DictionaryPageOffset < start {
			start = md.DictionaryPageOffset
		}
		end := start + md.TotalCompressedSize
		if start < 4 || md.TotalCompressedSize < 0 || end > size || end < start {
			return fmt.Errorf("column %d: chunk at %d of %d bytes lies outside the file", i, start, md.TotalCompressedSize)
		}
		for pos := start; pos < end; {
			var h format.PageHeader
			n, err := readPageHeader(ra, pos, end, &buf, &h)
			if err != nil {
				return fmt.Errorf("column %d: page header at byte %d: %w", i, pos, err)
			}
			values := int32(0)
			switch {
			case h.DataPageHeader.Valid:
				values = h.DataPageHeader.V.NumValues
			case h.DataPageHeaderV2.Valid:
				values = h.DataPageHeaderV2.V.NumValues
			case h.DictionaryPageHeader.Valid:
				values = h.DictionaryPageHeader.V.NumValues
			}
			switch {
			case h.CompressedPageSize < 0 || pos+int64(n)+int64(h.CompressedPageSize) > end:
				return fmt.Errorf("column %d: page at byte %d of %d bytes overruns its chunk", i, pos, h.CompressedPageSize)
			case h.UncompressedPageSize < 0 || h.UncompressedPageSize > MaxParquetPage || h.CompressedPageSize > MaxParquetPage:
				return fmt.Errorf("column %d: page at byte %d declares %d bytes (limit %d MiB)", i, pos, h.UncompressedPageSize, MaxParquetPage>>20)
			case values < 0 || values > MaxParquetPageValues:
				return fmt.Errorf("column %d: page at byte %d declares %d values (limit %d)", i, pos, values, MaxParquetPageValues)
			}
			pos += int64(n) + int64(h.CompressedPageSize)
		}
	}
	return nil
}

// readPageHeader decodes the page header at pos (before end) into h and
// returns its length. It decodes from a bounded buffer, so no length inside
// the header can make the decoder allocate more than the buffer holds.
func readPageHeader(ra io.ReaderAt, pos, end int64, buf *[]byte, h *format.PageHeader) (int, error) {
	var err error
	for _, want := range [...]int64{16 << 10, 1 << 20} {
		n := min(want, end-pos)
		if int64(cap(*buf)) < n {
			*buf = make([]byte, n)
		}
		b := (*buf)[:n]
		if _, err := ra.ReadAt(b, pos); err != nil && err != io.EOF {
			return 0, err
		}
		if _, err = thriftCheck(b); err == nil {
			var proto thrift.CompactProtocol
			r := proto.NewReaderFromBytes(b)
			*h = format.PageHeader{}
			if err = thrift.NewDecoder(r).Decode(h); err == nil {
				return r.BytesRead(), nil
			}
		}
		if n == end-pos {
			break // the whole chunk was there: a longer read will not help
		}
	}
	return 0, err
}

// Thrift compact protocol type codes.
const (
	ctStop = iota
	ctTrue
	ctFalse
	ctByte
	ctI16
	ctI32
	ctI64
	ctDouble
	ctBinary
	ctList
	ctSet
	ctMap
	ctStruct
)

var errThrift = errors.New("malformed metadata")

// thriftCheck walks the thrift compact-protocol struct at the start of b
// and returns its length. It checks that every list, set, map and string
// it declares is really there, so that the decoder, which sizes its slices
// by the declared counts, allocates no more elements than b has bytes.
func thriftCheck(b []byte) (int, error) {
	w := thriftWalker{b: b}
	if err := w.value(ctStruct, 0); err != nil {
		return 0, err
	}
	return w.i, nil
}

type thriftWalker struct {
	b []byte
	i int
}

func (w *thriftWalker) next() (byte, error) {
	if w.i >= len(w.b) {
		return 0, errThrift
	}
	c := w.b[w.i]
	w.i++
	return c, nil
}

func (w *thriftWalker) uvarint() (uint64, error) {
	v, n := binary.Uvarint(w.b[w.i:])
	if n <= 0 {
		return 0, errThrift
	}
	w.i += n
	return v, nil
}

// fits checks that n elements of at least min bytes each fit in what is
// left.
func (w *thriftWalker) fits(n uint64, min int) error {
	if n > uint64(len(w.b)-w.i)/uint64(min) {
		return errThrift
	}
	return nil
}

func (w *thriftWalker) value(t byte, depth int) error {
	if depth > 64 {
		return errThrift
	}
	switch t {
	case ctTrue, ctFalse:
		return nil // a struct field's value is in its header
	case ctByte:
		_, err := w.next()
		return err
	case ctI16, ctI32, ctI64:
		_, err := w.uvarint()
		return err
	case ctDouble:
		if err := w.fits(8, 1); err != nil {
			return err
		}
		w.i += 8
		return nil
	case ctBinary:
		n, err := w.uvarint()
		if err == nil {
			err = w.fits(n, 1)
		}
		if err != nil {
			return err
		}
		w.i += int(n)
		return nil
	case ctList, ctSet:
		h, err := w.next()
		if err != nil {
			return err
		}
		n, elem := uint64(h>>4), h&0x0f
		if n == 15 {
			if n, err = w.uvarint(); err != nil {
				return err
			}
		}
		if err := w.fits(n, 1); err != nil {
			return err
		}
		for range n {
			if elem == ctTrue || elem == ctFalse { // a list's booleans take a byte each
				if _, err := w.next(); err != nil {
					return err
				}
				continue
			}
			if err := w.value(elem, depth+1); err != nil {
				return err
			}
		}
		return nil
	case ctMap:
		n, err := w.uvarint()
		if err != nil || n == 0 {
			return err
		}
		if err := w.fits(n, 2); err != nil {
			return err
		}
		kv, err := w.next()
		if err != nil {
			return err
		}
		for range n {
			if err := w.value(kv>>4, depth+1); err != nil {
				return err
			}
			if err := w.value(kv&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case ctStruct:
		for {
			h, err := w.next()
			if err != nil {
				return err
			}
			if h == ctStop {
				return nil
			}
			if h>>4 == 0 { // a long-form field id follows
				if _, err := w.uvarint(); err != nil {
					return err
				}
			}
			if err := w.value(h&0x0f, depth+1); err != nil {
				return err
			}
		}
	}
	return errThrift
}
