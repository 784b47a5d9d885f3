package runstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// PartRef names one part of a run at one epoch. The epoch grows each time
// the part is taken over from a worker whose lease ran out; a worker holds
// the part only at the epoch it claimed.
type PartRef struct {
	Run   int64 `json:"run"` // the run's seq
	Part  int   `json:"part"`
	Epoch int64 `json:"epoch"`
}

func (p PartRef) String() string {
	return fmt.Sprintf("run %d part %d epoch %d", p.Run, p.Part, p.Epoch)
}

// Why a part cannot be claimed or written.
var (
	// ErrStale: the part is done, or was taken over (its epoch grew): the
	// claim is obsolete and can be dropped.
	ErrStale = errors.New("runstore: part done or taken over")
	// ErrHeld: another worker holds the part's lease, which has not run out.
	ErrHeld = errors.New("runstore: part held by another worker")
	// ErrLost: the lease is no longer this worker's (it ran out and the part
	// was taken over, or it was released): nothing more may be written.
	ErrLost = errors.New("runstore: lease lost")
)

// Lease is a worker's hold on a part, from Claim until Release or Done.
// While it holds, the worker alone records the part's results; it must
// Renew the lease before its time runs out. A Lease is safe for concurrent
// use.
type Lease struct {
	s       *Store
	ref     PartRef
	holder  string // this claim's token
	replica string // who works it, for Store.Workers

	Run    Run // the run, as it was at Claim
	Chunks int // the part's chunks
	Next   int // its first chunk without a result for every item, at Claim
}

// Claim takes the lease of part ref for replica, for ttl: ErrStale when the
// part is done or at another epoch, ErrHeld while another worker's lease
// runs. A queued run becomes running.
func (s *Store) Claim(ctx context.Context, ref PartRef, replica string, ttl time.Duration) (*Lease, error) {
	l := &Lease{s: s, ref: ref, holder: replica + "/" + token(), replica: replica}
	now := s.now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE parts SET holder = $4, lease_until = $5
			WHERE run = $1 AND part = $2 AND epoch = $3 AND done = 0 AND (holder = '' OR lease_until < $6)`,
			ref.Run, ref.Part, ref.Epoch, l.holder, millis(now.Add(ttl)), millis(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var epoch int64
			var done int
			err := tx.QueryRowContext(ctx, `SELECT epoch, done FROM parts WHERE run = $1 AND part = $2`, ref.Run, ref.Part).Scan(&epoch, &done)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return ErrStale // the run was deleted
			case err != nil:
				return err
			case done != 0 || epoch != ref.Epoch:
				return ErrStale
			}
			return ErrHeld
		}
		if err := tx.QueryRowContext(ctx, `SELECT chunks, next_chunk FROM parts WHERE run = $1 AND part = $2`, ref.Run, ref.Part).Scan(&l.Chunks, &l.Next); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = $2, started_at = CASE WHEN started_at = 0 THEN $3 ELSE started_at END
			WHERE seq = $1 AND status = $4`, ref.Run, Running, millis(now), Queued); err != nil {
			return err
		}
		l.Run, err = scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE seq = $1`, ref.Run))
		return err
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Ref is the part the lease holds.
func (l *Lease) Ref() PartRef { return l.ref }

// Renew extends the lease by ttl from now, and returns the run's stop
// request (see RequestStop): StopStatus "" while none. ErrLost when the
// lease is no longer this worker's.
func (l *Lease) Renew(ctx context.Context, ttl time.Duration) (stop Status, msg string, err error) {
	res, err := l.s.w.ExecContext(ctx, `UPDATE parts SET lease_until = $5 WHERE run = $1 AND part = $2 AND epoch = $3 AND holder = $4 AND done = 0`,
		l.ref.Run, l.ref.Part, l.ref.Epoch, l.holder, millis(l.s.now().Add(ttl)))
	if err != nil {
		return "", "", err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", "", ErrLost
	}
	err = l.s.r.QueryRowContext(ctx, `SELECT stop_status, stop_error FROM runs WHERE seq = $1`, l.ref.Run).Scan(&stop, &msg)
	return stop, msg, err
}

// Release gives the lease up (the part stays unfinished, for the next
// claim at the same epoch).
func (l *Lease) Release(ctx context.Context) error {
	_, err := l.s.w.ExecContext(ctx, `UPDATE parts SET holder = '', lease_until = 0 WHERE run = $1 AND part = $2 AND epoch = $3 AND holder = $4`,
		l.ref.Run, l.ref.Part, l.ref.Epoch, l.holder)
	return err
}

// fenceQuery reads a part's lease, for fence.
const fenceQuery = `SELECT epoch, holder, done FROM parts WHERE run = $1 AND part = $2`

// fence locks the part's row in tx (PostgreSQL) and checks that the lease
// is still this worker's.
func (l *Lease) fence(ctx context.Context, tx *sql.Tx) error {
	var epoch int64
	var holder string
	var done int
	err := l.s.scanTx(ctx, tx, fenceQuery+l.s.d.forUpdate, []any{l.ref.Run, l.ref.Part}, &epoch, &holder, &done)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (epoch != l.ref.Epoch || holder != l.holder || done != 0) {
		return ErrLost
	}
	return err
}

// Pending returns the items of chunk no of the part that have no result
// yet, in index order, and how many items the chunk has. The items' Data
// are the store's own copy, read afresh for this call and never written
// again: a caller may keep them, or strings that alias them, as long as it
// likes.
func (l *Lease) Pending(ctx context.Context, no int) (items []Item, total int, err error) {
	blob, n, err := l.chunk(ctx, no)
	if err != nil {
		return nil, 0, fmt.Errorf("reading chunk %d of part %d: %w", no, l.ref.Part, err)
	}
	var done []int64
	_, err = l.s.groups(ctx, l.ref.Run, l.ref.Part, no, 0, nil, func(_ int, r Result) error {
		done = append(done, r.Index)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	slices.Sort(done)
	items = make([]Item, 0, max(n-len(done), 0))
	err = decodeItems(blob, func(it Item) error {
		total++
		if _, found := slices.BinarySearch(done, it.Index); !found {
			items = append(items, it)
		}
		return nil
	})
	return items, total, err
}

// chunk reads chunk no of the part: its blob, unpacked into memory of its
// own (the driver's bytes are not copied first), and its count of items.
func (l *Lease) chunk(ctx context.Context, no int) (blob []byte, n int, err error) {
	rows, err := l.s.query(ctx, l.s.r, `SELECT data, items FROM chunks WHERE run = $1 AND part = $2 AND no = $3`, l.ref.Run, l.ref.Part, no)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, 0, err
		}
		return nil, 0, sql.ErrNoRows
	}
	var data sql.RawBytes // valid until rows.Close
	if err := rows.Scan(&data, &n); err != nil {
		return nil, 0, err
	}
	blob, err = appendUnpacked(nil, data)
	return blob, n, err
}

// Group is a group of results of one chunk being built for RecordGroup,
// in any order. The zero Group is empty and ready to use; Reset empties it
// for reuse.
type Group struct {
	blob   []byte
	packed []byte // blob as stored (pack), memory reused
	n      int
	kinds  int
	counts Counts
}

// Add adds the result of the item at index: its status and line.
func (g *Group) Add(index int64, status string, line []byte) {
	if len(g.blob) == 0 {
		g.blob = append(g.blob, blobFormat)
	}
	g.blob = appendResult(g.blob, Result{Index: index, Status: status, Line: line})
	g.n++
	g.kinds |= kindsOf(status)
	g.counts.add(status, 1)
}

// Grow makes room in g for n more bytes of results (each takes its line
// and a few bytes), so that adding them does not copy g as it grows.
func (g *Group) Grow(n int) { g.blob = slices.Grow(g.blob, n) }

// Len is the number of results in g.
func (g *Group) Len() int { return g.n }

// Reset empties g, keeping its memory.
func (g *Group) Reset() { *g = Group{blob: g.blob[:0], packed: g.packed[:0]} }

// Record stores results of items of chunk no as one group (see
// RecordGroup).
func (l *Lease) Record(ctx context.Context, no int, results []Result) error {
	var g Group
	for _, r := range results {
		g.Add(r.Index, r.Status, r.Line)
	}
	return l.RecordGroup(ctx, no, &g)
}

// The statements of RecordGroup.
const (
	insertGroup = `INSERT INTO results (run, part, chunk, grp, worker, n, kinds, data)
		VALUES ($1, $2, $3, (SELECT COALESCE(MAX(grp), -1) + 1 FROM results WHERE run = $1 AND part = $2 AND chunk = $3), $4, $5, $6, $7)`
	addCounts = `UPDATE runs SET ok = ok + $2, invalid = invalid + $3, failed = failed + $4, skipped = skipped + $5, unchanged = unchanged + $6 WHERE seq = $1`
)

// RecordGroup stores g, results of items of chunk no, as one group, and
// adds them to the run's counts, if the lease still holds (else ErrLost,
// and nothing is stored).
func (l *Lease) RecordGroup(ctx context.Context, no int, g *Group) error {
	if g.n == 0 {
		return nil
	}
	c := g.counts
	data := pack(g.packed, g.blob)
	if &data[0] != &g.blob[0] {
		g.packed = data
	}
	if !l.s.d.shared {
		l.s.stmts.warm(ctx, l.s.w, fenceQuery, insertGroup, addCounts)
	}
	return l.s.tx(ctx, func(tx *sql.Tx) error {
		if err := l.fence(ctx, tx); err != nil {
			return err
		}
		if _, err := l.s.execTx(ctx, tx, insertGroup,
			l.ref.Run, l.ref.Part, no, l.replica, g.n, g.kinds, data); err != nil {
			return err
		}
		_, err := l.s.execTx(ctx, tx, addCounts,
			l.ref.Run, c.OK, c.Invalid, c.Failed, c.Skipped, c.Unchanged)
		return err
	})
}

// Advance records that every chunk before next has a result for each of
// its items, so a later claim starts at next.
func (l *Lease) Advance(ctx context.Context, next int) error {
	res, err := l.s.exec(ctx, l.s.w, `UPDATE parts SET next_chunk = $5 WHERE run = $1 AND part = $2 AND epoch = $3 AND holder = $4 AND done = 0`,
		l.ref.Run, l.ref.Part, l.ref.Epoch, l.holder, next)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLost
	}
	return nil
}

// Done marks the part done (every item of it has a result) and ends the
// lease. The worker of the run's last part finishes the run: with its stop
// request's status and message if it has one, else succeeded or
// completed_with_failures from its counts; its write key is deleted.
// finished reports whether this call finished it, and run is the run then.
func (l *Lease) Done(ctx context.Context) (run Run, finished bool, err error) {
	err = l.s.tx(ctx, func(tx *sql.Tx) error {
		if err := l.fence(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE parts SET done = 1, next_chunk = chunks, holder = '', lease_until = 0 WHERE run = $1 AND part = $2`,
			l.ref.Run, l.ref.Part); err != nil {
			return err
		}
		finished, err = l.s.finishIfDone(ctx, tx, l.ref.Run)
		return err
	})
	if err != nil {
		return Run{}, false, err
	}
	run, err = l.s.bySeq(ctx, l.ref.Run)
	return run, finished, err
}

// finishIfDone finishes run seq in tx if every part of it is done, and
// reports whether it did. It locks the run's row first, so that of two
// parts done at once, the second sees the first.
func (s *Store) finishIfDone(ctx context.Context, tx *sql.Tx, seq int64) (bool, error) {
	var id string
	var status, stop Status
	var stopErr string
	var invalid, failed int64
	if err := tx.QueryRowContext(ctx, `SELECT id, status, stop_status, stop_error, invalid, failed FROM runs WHERE seq = $1`+s.d.forUpdate, seq).
		Scan(&id, &status, &stop, &stopErr, &invalid, &failed); err != nil {
		return false, err
	}
	if status.Finished() {
		return false, nil
	}
	var open int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM parts WHERE run = $1 AND done = 0`, seq).Scan(&open); err != nil || open > 0 {
		return false, err
	}
	final := stop
	if final == "" {
		final = Succeeded
		if invalid+failed > 0 {
			final = CompletedWithFailures
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = $2, error = $3, finished_at = $4 WHERE seq = $1`, seq, final, stopErr, millis(s.now())); err != nil {
		return false, err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM run_secrets WHERE run_id = $1`, id)
	return err == nil, err
}

// IdleParts returns the parts of unfinished runs that are not done and
// that no worker holds, oldest run first: what a queue hands out.
func (s *Store) IdleParts(ctx context.Context) ([]PartRef, error) {
	return s.partRefs(ctx, `SELECT p.run, p.part, p.epoch FROM parts p JOIN runs r ON r.seq = p.run
		WHERE p.done = 0 AND p.holder = '' AND r.status IN ($1, $2) ORDER BY p.run, p.part`, Queued, Running)
}

// ExpireLeases takes over every part whose lease has run out (its worker
// died, or lost the database): the part's epoch grows, which fences the old
// worker's writes, and it is released. It returns the parts at their new
// epoch, for a queue to hand out again.
func (s *Store) ExpireLeases(ctx context.Context) ([]PartRef, error) {
	return s.partRefs(ctx, `UPDATE parts SET epoch = epoch + 1, holder = '', lease_until = 0
		WHERE done = 0 AND holder != '' AND lease_until < $1 RETURNING run, part, epoch`, millis(s.now()))
}

func (s *Store) partRefs(ctx context.Context, q string, args ...any) ([]PartRef, error) {
	rows, err := s.w.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PartRef
	for rows.Next() {
		var p PartRef
		if err := rows.Scan(&p.Run, &p.Part, &p.Epoch); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// bySeq returns the run whose seq is seq.
func (s *Store) bySeq(ctx context.Context, seq int64) (Run, error) {
	return scanRun(s.r.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE seq = $1`, seq))
}

// groups calls fn with the results of chunk no of part of run seq, group
// by group in the order they were stored (fn's int is the group), only
// groups that hold a result with one of the kinds bits (0: all). Each
// group is unpacked onto the end of mem, and the results' lines alias it:
// they stay valid until the caller writes mem (as returned) again.
func (s *Store) groups(ctx context.Context, seq int64, part, no, kinds int, mem []byte, fn func(int, Result) error) ([]byte, error) {
	rows, err := s.query(ctx, s.r, `SELECT grp, data FROM results WHERE run = $1 AND part = $2 AND chunk = $3 AND ($4 = 0 OR (kinds & $4) != 0) ORDER BY grp`,
		seq, part, no, kinds)
	if err != nil {
		return mem, err
	}
	defer rows.Close()
	var data sql.RawBytes // the driver's, valid until the next row
	var grp int
	for rows.Next() {
		if err := rows.Scan(&grp, &data); err != nil {
			return mem, err
		}
		at := len(mem)
		if mem, err = appendUnpacked(mem, data); err != nil {
			return mem, err
		}
		if err := decodeResults(mem[at:], func(r Result) error { return fn(grp, r) }); err != nil {
			return mem, err
		}
	}
	return mem, rows.Err()
}

// add counts n results of status st.
func (c *Counts) add(st string, n int64) {
	switch st {
	case "ok":
		c.OK += n
	case "invalid":
		c.Invalid += n
	case "skipped":
		c.Skipped += n
	case "unchanged":
		c.Unchanged += n
	default:
		c.Failed += n
	}
}

// token returns 8 random hex digits.
func token() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
