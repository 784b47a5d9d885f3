package runstore

import (
	"cmp"
	"container/heap"
	"context"
	"slices"
)

// Result is one item's result as stored: its status and its result line.
type Result struct {
	Index  int64
	Status string // ok, invalid, failed, skipped or unchanged
	Line   []byte // the result line, newline included
}

// Results calls fn with the result lines of run id in index order, those
// with an index greater than after (-1 for all) and, when status is not "",
// that status. It merges the run's parts, holding one chunk's results per
// part at a time, and holds no transaction, so a long stream does not hold
// up writers; fn's line is valid only during the call. It stops at fn's
// first error and returns it.
func (s *Store) Results(ctx context.Context, id, status string, after int64, fn func(index int64, line []byte) error) error {
	run, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	curs, err := s.partCursors(ctx, run, status, after)
	if err != nil {
		return err
	}
	h := &cursorHeap{}
	for _, c := range curs {
		if err := c.fill(ctx); err != nil {
			return err
		}
		if c.pos < len(c.buf) {
			heap.Push(h, c)
		}
	}
	for h.Len() > 0 {
		c := (*h)[0]
		r := c.buf[c.pos]
		if err := fn(r.Index, r.Line); err != nil {
			return err
		}
		c.pos++
		if c.pos == len(c.buf) {
			if err := c.fill(ctx); err != nil {
				return err
			}
		}
		if c.pos < len(c.buf) {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

// cursor reads one part's results, a chunk at a time, sorted by index.
type cursor struct {
	s      *Store
	seq    int64
	part   int
	chunks []int // the chunk numbers left to read, in order
	kinds  int
	status string
	after  int64
	buf    []Result // the current chunk's results
	pos    int
	mem    []byte // their groups' blobs, reused from chunk to chunk
}

// partCursors returns a cursor per part of run over the chunks that may
// hold results after index after.
func (s *Store) partCursors(ctx context.Context, run Run, status string, after int64) ([]*cursor, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT part, no FROM chunks WHERE run = $1 AND last_idx > $2 ORDER BY part, no`, run.Seq, after)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*cursor
	var cur *cursor
	for rows.Next() {
		var part, no int
		if err := rows.Scan(&part, &no); err != nil {
			return nil, err
		}
		if cur == nil || cur.part != part {
			cur = &cursor{s: s, seq: run.Seq, part: part, kinds: kindsOf(status), status: status, after: after}
			out = append(out, cur)
		}
		cur.chunks = append(cur.chunks, no)
	}
	return out, rows.Err()
}

// fill loads the next chunk with results to show, or leaves buf empty when
// the part has none left.
func (c *cursor) fill(ctx context.Context) error {
	c.buf, c.pos = c.buf[:0], 0
	for len(c.buf) == 0 && len(c.chunks) > 0 {
		no := c.chunks[0]
		c.chunks = c.chunks[1:]
		// The previous chunk's lines are no longer used (see Results).
		var err error
		c.mem, err = c.s.groups(ctx, c.seq, c.part, no, c.kinds, c.mem[:0], func(_ int, r Result) error {
			if r.Index > c.after && (c.status == "" || r.Status == c.status) {
				c.buf = append(c.buf, r)
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Results are stored in the order they came, often the index
		// order. An index recorded twice (it cannot be, under the lease)
		// would show once.
		byIndex := func(a, b Result) int { return cmp.Compare(a.Index, b.Index) }
		if !slices.IsSortedFunc(c.buf, byIndex) {
			slices.SortStableFunc(c.buf, byIndex)
		}
		c.buf = slices.CompactFunc(c.buf, func(a, b Result) bool { return a.Index == b.Index })
	}
	return nil
}

// cursorHeap orders cursors by the index of their next result.
type cursorHeap []*cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	return h[i].buf[h[i].pos].Index < h[j].buf[h[j].pos].Index
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// NewRetry creates a queued run of the items of run from whose results
// have status failed, keeping their indexes, lines and parts (with from's
// run key, the same messageIds). It returns the new run, or ErrNotFound.
func (s *Store) NewRetry(ctx context.Context, from string, n New, writeKey string) (Run, error) {
	src, err := s.Get(ctx, from)
	if err != nil {
		return Run{}, err
	}
	curs, err := s.partCursors(ctx, src, "failed", -1)
	if err != nil {
		return Run{}, err
	}
	up, err := s.NewUpload(ctx, max(src.Parts, 1))
	if err != nil {
		return Run{}, err
	}
	fail := func(err error) (Run, error) {
		up.Abort()
		return Run{}, err
	}
	for _, c := range curs {
		for _, no := range c.chunks {
			var failed []int64
			_, err := s.groups(ctx, src.Seq, c.part, no, kindsOf("failed"), nil, func(_ int, r Result) error {
				if r.Status == "failed" {
					failed = append(failed, r.Index)
				}
				return nil
			})
			if err != nil {
				return fail(err)
			}
			if len(failed) == 0 {
				continue
			}
			slices.Sort(failed)
			var data []byte
			if err := s.r.QueryRowContext(ctx, `SELECT data FROM chunks WHERE run = $1 AND part = $2 AND no = $3`, src.Seq, c.part, no).Scan(&data); err != nil {
				return fail(err)
			}
			err = decodeItems(data, func(it Item) error {
				if _, found := slices.BinarySearch(failed, it.Index); !found {
					return nil
				}
				return up.Add(ctx, c.part, it)
			})
			if err != nil {
				return fail(err)
			}
		}
	}
	n.RetryOf = from
	run, err := up.Commit(ctx, n, writeKey)
	if err != nil {
		return fail(err)
	}
	return run, nil
}
