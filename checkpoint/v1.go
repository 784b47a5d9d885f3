package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// recordV1 is a checkpoint in format 1, which this package reads (and
// rewrites in format 2) but no longer writes: one JSON document, replaced
// whole on every write,
//
//	{"version":1,"fingerprint":"...","runKey":"...","ranges":[[0,1200],[1203,1250]],"updated":"RFC3339"}
//
// Ranges are sorted, disjoint, non-adjacent half-open [lo, hi) pairs of
// finished item indexes.
type recordV1 struct {
	Version     int        `json:"version"`
	Fingerprint string     `json:"fingerprint"`
	RunKey      string     `json:"runKey"`
	Ranges      [][2]int64 `json:"ranges"`
	Updated     string     `json:"updated"`
}

// parseV1 decodes and validates data as a format 1 document: its reason
// for refusing it, or "".
func parseV1(data []byte) (st *State, reason string, err error) {
	// Ranges are decoded as plain slices so that a pair with more or fewer
	// than two numbers is caught rather than silently truncated or padded.
	var raw struct {
		recordV1
		Ranges [][]int64 `json:"ranges"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, "invalid JSON", err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, "trailing data after the JSON document", nil
	}
	rec := raw.recordV1
	switch {
	case rec.Version != 1:
		return nil, fmt.Sprintf("unsupported version %d (want 1 or 2)", rec.Version), nil
	case rec.Fingerprint == "":
		return nil, "no fingerprint", nil
	}
	updated, err := time.Parse(time.RFC3339, rec.Updated)
	if err != nil {
		return nil, "bad updated time", err
	}
	ranges := make([][2]int64, len(raw.Ranges))
	for k, p := range raw.Ranges {
		if len(p) != 2 {
			return nil, fmt.Sprintf("range %d has %d numbers, want 2", k, len(p)), nil
		}
		ranges[k] = [2]int64{p[0], p[1]}
	}
	if reason := validPairs(ranges); reason != "" {
		return nil, reason, nil
	}
	return &State{Fingerprint: rec.Fingerprint, RunKey: rec.RunKey, Ranges: ranges, Updated: updated}, "", nil
}
