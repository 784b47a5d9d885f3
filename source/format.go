// Package source streams input items from CSV, JSON arrays, JSON Lines (each
// plain or gzip- or zstd-compressed) and Parquet in bounded memory. Each item
// carries its 0-based index and the 1-based line it starts on (a Parquet
// row's 1-based row number); a malformed item becomes a Record with Err set
// and reading goes on wherever the format allows it.
//
// An object (a JSON item, or any reader's typed row) comes as Record.Fields;
// a CSV row comes as Record.Cells under Record.Header, to be read by column
// position (see mapping.Mapping.ForHeader) rather than through a map per
// row. Record.Map gives either as a map.
//
// A typical loop:
//
//	r, err := source.Open(f, source.CSV, source.Options{})
//	if err != nil { ... }
//	for {
//		rec, err := r.Next()
//		if err == io.EOF { break }
//		if err != nil { ... } // fatal: I/O or a JSON array broken mid-stream
//		if rec.Err != nil { ... } // this item is bad; the next one may be fine
//	}
package source

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Format names an input format.
type Format string

// The input formats. TSV is CSV with a tab delimiter.
const (
	CSV     Format = "csv"
	TSV     Format = "tsv"
	JSON    Format = "json"
	NDJSON  Format = "ndjson"
	Parquet Format = "parquet"
)

// ErrFormat is wrapped by ParseFormat and FormatOf when a format cannot be
// named or guessed.
var ErrFormat = errors.New("unknown input format")

// ParseFormat parses a format name as given on the command line: csv, tsv,
// json, ndjson, jsonl (an alias of ndjson) or parquet, in any case.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "csv":
		return CSV, nil
	case "tsv":
		return TSV, nil
	case "json":
		return JSON, nil
	case "ndjson", "jsonl":
		return NDJSON, nil
	case "parquet":
		return Parquet, nil
	}
	return "", fmt.Errorf("%w %q (want csv, tsv, json, ndjson, jsonl or parquet)", ErrFormat, s)
}

// FormatOf guesses the format of path from its extension: .csv, .tsv, .json,
// .ndjson, .jsonl or .parquet, in any case. A compressed file's extension
// (.gz, .gzip, .zst or .zstd) is looked through: users.csv.gz is CSV.
// Whether the content is compressed is decided by its first bytes when it is
// read (see Decompress), not by the name. Standard input ("-") has no
// extension and yields an error wrapping ErrFormat: the caller must name the
// format.
func FormatOf(path string) (Format, error) {
	ext := strings.ToLower(filepath.Ext(path))
	switch ext {
	case ".gz", ".gzip", ".zst", ".zstd":
		inner := strings.ToLower(filepath.Ext(strings.TrimSuffix(path, filepath.Ext(path))))
		if inner == ".parquet" {
			return "", fmt.Errorf("%w: %q: a compressed Parquet file cannot be read (Parquet compresses its own pages): decompress it first", ErrFormat, path)
		}
		ext = inner
	}
	switch ext {
	case ".csv":
		return CSV, nil
	case ".tsv":
		return TSV, nil
	case ".json":
		return JSON, nil
	case ".ndjson", ".jsonl":
		return NDJSON, nil
	case ".parquet":
		return Parquet, nil
	}
	return "", fmt.Errorf("%w: cannot tell the format of %q from its extension (want .csv, .tsv, .json, .ndjson, .jsonl or .parquet, optionally followed by .gz or .zst)", ErrFormat, path)
}

// DefaultMaxItemBytes is the item size limit used when Options.MaxItemBytes is 0.
const DefaultMaxItemBytes = 1 << 20

// Options tunes a reader. The zero value reads comma-separated CSV and items
// of up to DefaultMaxItemBytes.
type Options struct {
	// Delimiter separates CSV cells; 0 means ',' (or '\t' for TSV). It must
	// be a valid encoding/csv delimiter: not a quote, \r, \n or U+FFFD.
	Delimiter rune
	// MaxItemBytes bounds one item (a CSV row, a JSON Lines line, a JSON array
	// element); 0 means DefaultMaxItemBytes. Memory stays bounded by a small
	// multiple of it whatever the input.
	MaxItemBytes int
	// AllowShortRows accepts CSV rows with fewer cells than the header, as
	// some exports write rows whose trailing cells are empty: the missing
	// cells are absent (as empty cells are, to the default mapping). By
	// default such a row is an item error wrapping ErrShortRow, since a
	// missing cell in the middle would shift values into the wrong columns.
	AllowShortRows bool
}

func (o Options) maxItem() int {
	if o.MaxItemBytes <= 0 {
		return DefaultMaxItemBytes
	}
	return o.MaxItemBytes
}
