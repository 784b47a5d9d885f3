package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// version is the only on-disk format version this package reads and writes.
const version = 1

// maxFileSize bounds what Open reads, so a hostile or runaway file cannot
// exhaust memory. At about 30 bytes per range it allows millions of gaps.
const maxFileSize = 256 << 20

// record is the on-disk checkpoint, one small JSON document:
//
//	{"version":1,"fingerprint":"...","runKey":"...","ranges":[[0,1200],[1203,1250]],"updated":"RFC3339"}
//
// Ranges are sorted, disjoint, non-adjacent half-open [lo, hi) pairs of
// finished item indexes.
type record struct {
	Version     int        `json:"version"`
	Fingerprint string     `json:"fingerprint"`
	RunKey      string     `json:"runKey"`
	Ranges      [][2]int64 `json:"ranges"`
	Updated     string     `json:"updated"`
}

// encode returns the JSON document for rec, newline-terminated.
func (rec *record) encode() ([]byte, error) {
	if rec.Ranges == nil {
		rec.Ranges = [][2]int64{}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode checkpoint: %w", err)
	}
	return append(b, '\n'), nil
}

// readRecord reads and validates the checkpoint at path. It returns an error
// satisfying errors.Is(err, fs.ErrNotExist) when there is no file, a
// *CorruptError when the file cannot be trusted, and the I/O error otherwise.
func readRecord(path string) (*record, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	return parseRecord(path, data)
}

// parseRecord decodes and validates data, the content of the file at path.
func parseRecord(path string, data []byte) (*record, error) {
	corrupt := func(reason string, err error) error {
		return &CorruptError{Path: path, Reason: reason, Err: err}
	}
	if len(data) > maxFileSize {
		return nil, corrupt(fmt.Sprintf("larger than %d bytes", maxFileSize), nil)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, corrupt("empty file", nil)
	}
	// Ranges are decoded as plain slices so that a pair with more or fewer
	// than two numbers is caught rather than silently truncated or padded.
	var raw struct {
		record
		Ranges [][]int64 `json:"ranges"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, corrupt("invalid JSON", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, corrupt("trailing data after the JSON document", nil)
	}
	rec := raw.record
	switch {
	case rec.Version != version:
		return nil, corrupt(fmt.Sprintf("unsupported version %d (want %d)", rec.Version, version), nil)
	case rec.Fingerprint == "":
		return nil, corrupt("no fingerprint", nil)
	}
	if _, err := time.Parse(time.RFC3339, rec.Updated); err != nil {
		return nil, corrupt("bad updated time", err)
	}
	rec.Ranges = make([][2]int64, len(raw.Ranges))
	for k, p := range raw.Ranges {
		if len(p) != 2 {
			return nil, corrupt(fmt.Sprintf("range %d has %d numbers, want 2", k, len(p)), nil)
		}
		rec.Ranges[k] = [2]int64{p[0], p[1]}
	}
	if reason := validPairs(rec.Ranges); reason != "" {
		return nil, corrupt(reason, nil)
	}
	return &rec, nil
}
