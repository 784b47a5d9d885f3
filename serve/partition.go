package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"

	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/segment"
)

// partitioner tells the part of a run an item belongs to: a hash of its
// user (the mapped userId, else anonymousId), so that the items of one user
// are all in one part, in input order, and reach Segment in that order
// whichever replica works the part. An item without a user (invalid: it is
// never sent) goes by its index.
type partitioner struct {
	m       *mapping.Mapping
	trigger map[string]any
	parts   int

	header []string         // the rows' header bound, by identity
	bound  *mapping.Mapping // m bound to header
}

func newPartitioner(sp spec, parts int) (*partitioner, error) {
	p := &partitioner{m: mapping.Default(), parts: parts}
	var err error
	if sp.Mapping != nil {
		if p.m, err = mapping.Parse(sp.Mapping); err != nil {
			return nil, err
		}
	}
	if p.trigger, err = decodeTrigger(sp.Trigger); err != nil {
		return nil, err
	}
	return p, nil
}

// part returns the part of the item at index with fields (nil: unreadable).
func (p *partitioner) part(index int64, fields map[string]any) int {
	if fields == nil {
		return int(index % int64(p.parts))
	}
	in, err := p.m.Apply(mapping.Env{Item: fields, Trigger: p.trigger, Index: index})
	return p.of(index, in, err)
}

// partRow returns the part of the row at index with cells under header
// (the rows of a body share one header slice), mapped by column position
// as segloop.Run maps rows.
func (p *partitioner) partRow(index int64, header, cells []string) int {
	if p.bound == nil || len(header) != len(p.header) || len(header) > 0 && &header[0] != &p.header[0] {
		p.header, p.bound = header, p.m.ForHeader(header)
	}
	in, err := p.bound.Apply(mapping.Env{Row: cells, Trigger: p.trigger, Index: index})
	return p.of(index, in, err)
}

func (p *partitioner) of(index int64, in segment.Identify, err error) int {
	user := in.UserID
	if user == "" {
		user = in.AnonymousID
	}
	if err != nil || user == "" {
		return int(index % int64(p.parts))
	}
	h := fnv.New32a()
	h.Write([]byte(user))
	return int(h.Sum32() % uint32(p.parts))
}

// intake receives a body's items in order and stores each in its part:
// at once when the run's mapping and trigger are known before its items
// (CSV and NDJSON bodies: they are in the query), else (a JSON body, whose
// options may follow its items) through a spool that finish replays once
// they are known. Memory stays bounded either way.
type intake struct {
	up    *runstore.Upload
	p     *partitioner // nil: spool
	spool spool
}

// add stores it; fields is its decoded object when the reader has it
// (nil: decoded here when needed).
func (in *intake) add(ctx context.Context, it runstore.Item, fields map[string]any) error {
	if in.p == nil {
		return in.spool.add(it)
	}
	if fields == nil && it.Error == "" {
		fields = decodeFields(it.Data)
	}
	if it.Error != "" {
		fields = nil
	}
	return in.up.Add(ctx, in.p.part(it.Index, fields), it)
}

// addRow stores it, a row with cells under header; the run's partitioner
// is known (a CSV body).
func (in *intake) addRow(ctx context.Context, it runstore.Item, header, cells []string) error {
	return in.up.Add(ctx, in.p.partRow(it.Index, header, cells), it)
}

// finish stores the spooled items with p, and removes the spool.
func (in *intake) finish(ctx context.Context, p *partitioner) error {
	defer in.spool.close()
	if in.p != nil {
		return nil
	}
	in.p = p
	return in.spool.replay(func(it runstore.Item) error { return in.add(ctx, it, nil) })
}

// abort removes the spool.
func (in *intake) abort() { in.spool.close() }

func decodeFields(data []byte) map[string]any {
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if dec.Decode(&fields) != nil {
		return nil
	}
	return fields
}

// spoolMemory is how much a spool holds in memory before it moves to a
// temporary file.
const spoolMemory = 4 << 20

// spool keeps items in order, in memory then in a temporary file (removed
// by close).
type spool struct {
	buf bytes.Buffer
	f   *os.File
	w   *bufio.Writer
	tmp [3 * binary.MaxVarintLen64]byte
}

func (s *spool) add(it runstore.Item) error {
	var w io.Writer = &s.buf
	if s.f == nil && s.buf.Len() > spoolMemory {
		f, err := os.CreateTemp("", "segloop-upload-*")
		if err != nil {
			return fmt.Errorf("spooling the body: %w", err)
		}
		os.Remove(f.Name()) // unlinked: gone with the process, whatever happens
		s.f, s.w = f, bufio.NewWriterSize(f, 256<<10)
		if _, err := s.w.Write(s.buf.Bytes()); err != nil {
			return fmt.Errorf("spooling the body: %w", err)
		}
		s.buf = bytes.Buffer{}
	}
	if s.w != nil {
		w = s.w
	}
	b := binary.AppendUvarint(s.tmp[:0], uint64(it.Index))
	b = binary.AppendUvarint(b, uint64(it.Line))
	b = binary.AppendUvarint(b, uint64(len(it.Error)))
	w.Write(b)
	io.WriteString(w, it.Error)
	b = binary.AppendUvarint(s.tmp[:0], uint64(len(it.Data)))
	w.Write(b)
	if _, err := w.Write(it.Data); err != nil {
		return fmt.Errorf("spooling the body: %w", err)
	}
	return nil
}

func (s *spool) replay(fn func(runstore.Item) error) error {
	var r *bufio.Reader
	if s.f != nil {
		if err := s.w.Flush(); err != nil {
			return err
		}
		if _, err := s.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		r = bufio.NewReaderSize(s.f, 256<<10)
	} else {
		r = bufio.NewReader(bytes.NewReader(s.buf.Bytes()))
	}
	for {
		index, err := binary.ReadUvarint(r)
		if errors.Is(err, io.EOF) {
			return nil
		}
		line, _ := binary.ReadUvarint(r)
		msg, err2 := readBytes(r)
		data, err3 := readBytes(r)
		if err := errors.Join(err2, err3); err != nil {
			return fmt.Errorf("reading the spooled body: %w", err)
		}
		if err := fn(runstore.Item{Index: int64(index), Line: int(line), Error: string(msg), Data: data}); err != nil {
			return err
		}
	}
}

func readBytes(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}

func (s *spool) close() {
	if s.f != nil {
		s.f.Close()
		s.f, s.w = nil, nil
	}
	s.buf = bytes.Buffer{}
}
