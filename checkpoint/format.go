package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"time"
)

// Format 2, the one this package writes, is a journal of lines, each ending
// in the CRC-32C (Castagnoli) of what precedes it on the line, in hex:
//
//	segloop-checkpoint 2 {"fingerprint":"…","runKey":"…","ranges":[[0,1200],[1203,1250]],"updated":"2026-01-02T15:04:05Z"} 3f1c09a2
//	+ 1250:1270 1272 1275:1290 9b0e44d1
//
// A snapshot line ("segloop-checkpoint 2 " and a JSON object) holds the whole
// state: the run's fingerprint and run key and the finished indexes as sorted
// half-open ranges. A mark line ("+") adds finished indexes to the snapshot
// before it: ranges lo:hi (half-open, as Go slices) or single indexes, sorted.
// The file always starts with a snapshot line (or, while a format 1 file is
// migrated, with that file's JSON document, which counts as one).
//
// Reading: the last valid snapshot line holds the state, and the mark lines
// after it add to it; what comes before that snapshot is superseded, damaged
// or not (a compaction leaves such a mix behind if it is cut short). After
// it, every line must be valid, except the last one: a record whose write a
// crash cut short is ignored. A damaged line followed by valid ones is
// corruption, and the file is refused.
const magic = "segloop-checkpoint 2 "

// magicPrefix starts every snapshot line of any format version after 1.
const magicPrefix = "segloop-checkpoint "

// maxFileSize bounds what Open reads, so a hostile or runaway file cannot
// exhaust memory. At about 20 bytes per range it allows millions of gaps;
// the journal is compacted long before it gets there.
const maxFileSize = 256 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// State is the content of a checkpoint: whose it is, its run key, and the
// finished item indexes as sorted, disjoint, non-adjacent half-open ranges.
type State struct {
	Fingerprint string
	RunKey      string
	Ranges      [][2]int64
	Updated     time.Time // when the last snapshot was written
}

// snapshotJSON is the JSON object of a snapshot line.
type snapshotJSON struct {
	Fingerprint string          `json:"fingerprint"`
	RunKey      string          `json:"runKey"`
	Ranges      json.RawMessage `json:"ranges"`
	Updated     string          `json:"updated"`
}

// appendSnapshot appends the snapshot line of st (ranges given as spans).
func appendSnapshot(b []byte, fingerprint, runKey string, spans []span, updated time.Time) []byte {
	start := len(b)
	b = append(b, magic...)
	b = append(b, `{"fingerprint":`...)
	b = appendJSONString(b, fingerprint)
	b = append(b, `,"runKey":`...)
	b = appendJSONString(b, runKey)
	b = append(b, `,"ranges":[`...)
	for k, s := range spans {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, s.lo, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, s.hi, 10)
		b = append(b, ']')
	}
	b = append(b, `],"updated":"`...)
	b = updated.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `"}`...)
	return appendCRC(b, start)
}

// appendMarks appends the mark line of spans (canonical: sorted, disjoint,
// not adjacent; not empty).
func appendMarks(b []byte, spans []span) []byte {
	start := len(b)
	b = append(b, '+')
	for _, s := range spans {
		b = append(b, ' ')
		b = strconv.AppendInt(b, s.lo, 10)
		if s.hi > s.lo+1 {
			b = append(b, ':')
			b = strconv.AppendInt(b, s.hi, 10)
		}
	}
	return appendCRC(b, start)
}

// appendCRC ends the line b[start:] with a space, its CRC and a newline.
func appendCRC(b []byte, start int) []byte {
	sum := crc32.Checksum(b[start:], castagnoli)
	b = append(b, ' ')
	const hexDigits = "0123456789abcdef"
	for shift := 28; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[sum>>uint(shift)&0xf])
	}
	return append(b, '\n')
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

// Read returns the state of the checkpoint file at path without opening it
// for a run: no lock is taken and nothing is written, so it may be called
// while a run holds the file (it sees the marks written so far). It returns
// a *CorruptError for a file that cannot be trusted, and an error matching
// fs.ErrNotExist when there is none. An empty file reads as a zero State.
func Read(path string) (*State, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	c, err := parseContent(path, data)
	if err != nil {
		return nil, err
	}
	if c.state == nil {
		return &State{Ranges: [][2]int64{}}, nil
	}
	return c.state, nil
}

// content is a checkpoint file as read.
type content struct {
	state *State // nil for an empty file: a new checkpoint
	set   rangeSet
	end   int64 // the end of the last valid record; anything after it is a torn record
	v1    bool  // a format 1 file (to be rewritten in format 2)
}

// parseContent reads data, the content of the checkpoint file at path. It
// returns a *CorruptError when the file cannot be trusted.
func parseContent(path string, data []byte) (*content, error) {
	corrupt := func(reason string, err error) error {
		return &CorruptError{Path: path, Reason: reason, Err: err}
	}
	var v1Reason string // why the file is no format 1 document, when it starts like one
	var v1Err error
	switch {
	case len(data) > maxFileSize:
		return nil, corrupt(fmt.Sprintf("larger than %d bytes", maxFileSize), nil)
	case len(data) == 0:
		return &content{}, nil
	case len(data) < len(magic) && bytes.HasPrefix([]byte(magic), data):
		return &content{}, nil // the very first write, cut short: nothing was ever recorded
	case data[0] == '{':
		st, reason, err := parseV1(data)
		if reason == "" {
			c := &content{state: st, end: int64(len(bytes.TrimRight(data, " \t\r\n"))), v1: true}
			c.set.setPairs(st.Ranges)
			return c, nil
		}
		if nl := bytes.IndexByte(data, '\n'); nl < 0 || nl == len(data)-1 {
			return nil, corrupt(reason, err) // one line: a damaged format 1 file
		}
		v1Reason, v1Err = reason, err
		// A format 1 document with lines after it: a migration cut short.
	case !bytes.HasPrefix(data, []byte(magicPrefix)):
		return nil, corrupt("not a segloop checkpoint file", nil)
	}

	type line struct {
		ok         bool
		snapshot   *State
		marks      [][2]int64
		start, end int64
	}
	var lines []line
	for off := 0; off < len(data); {
		n := bytes.IndexByte(data[off:], '\n')
		end := len(data)
		if n >= 0 {
			end = off + n + 1
		}
		l := line{start: int64(off), end: int64(end)}
		if n >= 0 { // an unterminated line is a torn record
			var err error
			l.snapshot, l.marks, err = parseLine(data[off:end-1], len(lines) == 0)
			if errors.Is(err, errVersion) {
				return nil, corrupt(err.Error(), nil)
			}
			l.ok = err == nil
		}
		lines = append(lines, l)
		off = end
	}
	last := -1
	for k := len(lines) - 1; k >= 0; k-- {
		if lines[k].ok && lines[k].snapshot != nil {
			last = k
			break
		}
	}
	if last < 0 {
		if len(lines) == 1 && data[len(data)-1] != '\n' && bytes.HasPrefix(data, []byte(magic)) {
			return &content{}, nil // the very first write, cut short: nothing was ever recorded
		}
		if v1Reason != "" {
			return nil, corrupt(v1Reason, v1Err)
		}
		return nil, corrupt("no valid snapshot record", nil)
	}
	c := &content{state: lines[last].snapshot, end: lines[last].end}
	c.set.setPairs(c.state.Ranges)
	for k := last + 1; k < len(lines); k++ {
		l := lines[k]
		switch {
		case !l.ok && k == len(lines)-1:
			// The last record, torn by a crash: ignored.
		case !l.ok || l.snapshot != nil:
			return nil, corrupt(fmt.Sprintf("record on line %d is damaged, and records follow it", k+1), nil)
		default:
			for _, p := range l.marks {
				c.set.addSpan(p[0], p[1])
			}
			c.end = l.end
		}
	}
	c.state.Ranges = c.set.appendPairs([][2]int64{})
	return c, nil
}

// errVersion reports a valid snapshot line of a format this package does not know.
var errVersion = errors.New("unsupported version")

// parseLine parses one line without its newline: a snapshot (st), a mark
// line (marks), or, as the first line, a format 1 document (a snapshot).
func parseLine(l []byte, first bool) (st *State, marks [][2]int64, err error) {
	if first && len(l) > 0 && l[0] == '{' {
		st, reason, err := parseV1(l)
		if reason != "" {
			return nil, nil, fmt.Errorf("format 1 record: %s: %w", reason, err)
		}
		return st, nil, nil
	}
	sp := bytes.LastIndexByte(l, ' ')
	if sp < 0 || len(l)-sp-1 != 8 {
		return nil, nil, errors.New("no checksum")
	}
	want, err := strconv.ParseUint(string(l[sp+1:]), 16, 32)
	if err != nil || crc32.Checksum(l[:sp], castagnoli) != uint32(want) {
		return nil, nil, errors.New("checksum mismatch")
	}
	body := l[:sp]
	switch {
	case bytes.HasPrefix(body, []byte(magic)):
		st, err := parseSnapshot(body[len(magic):])
		return st, nil, err
	case bytes.HasPrefix(body, []byte(magicPrefix)):
		v, _, _ := bytes.Cut(body[len(magicPrefix):], []byte(" "))
		return nil, nil, fmt.Errorf("%w %s (this segloop reads 1 and 2)", errVersion, v)
	case len(body) > 0 && body[0] == '+':
		marks, err := parseMarks(body[1:])
		return nil, marks, err
	}
	return nil, nil, errors.New("unknown record")
}

// parseSnapshot parses the JSON object of a snapshot line.
func parseSnapshot(obj []byte) (*State, error) {
	var j snapshotJSON
	dec := json.NewDecoder(bytes.NewReader(obj))
	if err := dec.Decode(&j); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data")
	}
	if j.Fingerprint == "" {
		return nil, errors.New("no fingerprint")
	}
	updated, err := time.Parse(time.RFC3339, j.Updated)
	if err != nil {
		return nil, err
	}
	var raw [][]int64
	if err := json.Unmarshal(j.Ranges, &raw); err != nil {
		return nil, err
	}
	ranges := make([][2]int64, len(raw))
	for k, p := range raw {
		if len(p) != 2 {
			return nil, errors.New("a range without two numbers")
		}
		ranges[k] = [2]int64{p[0], p[1]}
	}
	if reason := validPairs(ranges); reason != "" {
		return nil, errors.New(reason)
	}
	return &State{Fingerprint: j.Fingerprint, RunKey: j.RunKey, Ranges: ranges, Updated: updated}, nil
}

// parseMarks parses the ranges of a mark line: " lo:hi" or " i", sorted,
// disjoint and not adjacent.
func parseMarks(b []byte) ([][2]int64, error) {
	var pairs [][2]int64
	for len(b) > 0 {
		if b[0] != ' ' {
			return nil, errors.New("bad separator")
		}
		b = b[1:]
		tok := b
		if sp := bytes.IndexByte(b, ' '); sp >= 0 {
			tok, b = b[:sp], b[sp:]
		} else {
			b = nil
		}
		los, his, isRange := bytes.Cut(tok, []byte(":"))
		lo, err := parseIndex(los)
		if err != nil {
			return nil, err
		}
		hi := lo + 1
		if isRange {
			if hi, err = parseIndex(his); err != nil {
				return nil, err
			}
		}
		pairs = append(pairs, [2]int64{lo, hi})
	}
	if len(pairs) == 0 {
		return nil, errors.New("no ranges")
	}
	if reason := validPairs(pairs); reason != "" {
		return nil, errors.New(reason)
	}
	return pairs, nil
}

// parseIndex parses a non-negative decimal index, digits only.
func parseIndex(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 19 {
		return 0, errors.New("bad index")
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errors.New("bad index")
		}
	}
	return strconv.ParseInt(string(b), 10, 64)
}
