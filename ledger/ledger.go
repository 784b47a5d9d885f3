package ledger

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Errors that callers branch on; the errors Open returns wrap them with the
// ledger's location and the facts a person needs.
var (
	// ErrDestination: the ledger belongs to another destination. The
	// command maps it to a usage error (exit 2): nothing is sent.
	ErrDestination = errors.New("ledger belongs to another destination")
	// ErrNotLedger: the location holds something that is not a ledger
	// (a file of another kind, a database of another application, a ledger
	// of a newer format). It is left untouched.
	ErrNotLedger = errors.New("not a segloop ledger")
)

// Entry is one user's event hash: the caller's user (the event's userId,
// else its anonymousId) and the Sum of the event.
type Entry struct {
	User string
	Hash Hash
}

// Ledger records, for one destination, the Hash of the last event Segment
// accepted for each user. It is safe for concurrent use; several Ledgers
// (in one process or several) may share one location, each seeing the
// others' commits. Close releases it.
type Ledger struct {
	location string // for messages: a path, or a URL without its password
	epoch    uint64 // random, set when the ledger was created (see Version)
	store    store
	scratch  sync.Pool // *batch
}

// store is a kind of ledger: the embedded file or PostgreSQL. keys are
// unique and ascending (bytewise) in every call; see userKey.
type store interface {
	// lookup sets found[i], stored[i] and gens[i] (commits of the user so
	// far) for keys[i], in one query.
	lookup(ctx context.Context, keys []string, stored []Hash, gens []uint64, found []bool) error
	// commit upserts hashes[i] for keys[i] in one transaction.
	commit(ctx context.Context, keys []string, hashes []Hash) error
	close() error
}

// Open opens the ledger at location for destination, creating it when it
// does not exist. location is a file path (the embedded kind, one SQLite
// file) or a postgres:// or postgresql:// URL (a ledger shared by several
// processes and machines; see the package doc). destination is an opaque,
// non-secret name of where events go, such as a hash of the endpoint and
// write key: a ledger records the destination it was created for and
// refuses any other with an error wrapping ErrDestination. A file that is
// not a ledger is refused with ErrNotLedger and left as it was.
//
// Errors never contain a password from location.
func Open(ctx context.Context, location, destination string) (*Ledger, error) {
	if destination == "" {
		return nil, errors.New("ledger: empty destination")
	}
	var (
		s     store
		loc   string
		epoch uint64
		err   error
	)
	if isPostgres(location) {
		s, loc, epoch, err = openPostgres(ctx, location, destination)
	} else {
		loc = location
		s, epoch, err = openFile(ctx, location, destination)
	}
	if err != nil {
		return nil, err
	}
	return &Ledger{location: loc, epoch: epoch, store: s}, nil
}

// checkMeta checks a ledger's meta table, its format version and its
// destination, and returns its epoch.
func checkMeta(meta map[string]string, destination string) (uint64, error) {
	if v := meta["version"]; v != strconv.Itoa(formatVersion) {
		return 0, fmt.Errorf("%w: format version %q, this segloop reads version %d", ErrNotLedger, v, formatVersion)
	}
	if d := meta["destination"]; d != destination {
		return 0, fmt.Errorf("%w: it is for %q, not %q", ErrDestination, d, destination)
	}
	epoch, err := strconv.ParseUint(meta["epoch"], 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: no epoch in its meta table", ErrNotLedger)
	}
	return epoch, nil
}

// newEpoch returns a random epoch, as hex text for the meta table.
func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

func isPostgres(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// Location returns where the ledger lives: its path, or its URL without
// password.
func (l *Ledger) Location() string { return l.location }

// Lookup sets unchanged[i] to whether the ledger holds exactly batch[i].Hash
// for batch[i].User, that is whether Segment already has that content.
// unchanged must be at least as long as batch. It costs one query for the
// whole batch. Entries of one user are each compared with what the ledger
// held before the call. Users are compared after replacing invalid UTF-8
// with U+FFFD, as they travel to Segment.
func (l *Ledger) Lookup(ctx context.Context, batch []Entry, unchanged []bool) error {
	if len(unchanged) < len(batch) {
		return errors.New("ledger: Lookup: unchanged is shorter than batch")
	}
	return l.lookup(ctx, batch, func(i int, found bool, stored Hash, _ uint64) {
		unchanged[i] = found && stored == batch[i].Hash
	})
}

// State is what LookupStates found for one entry.
type State struct {
	// Unchanged: the ledger holds exactly the entry's Hash for its user.
	Unchanged bool
	// Version names the user's record as the lookup found it: two lookups
	// with no Commit of the user between them give the same Version; every
	// Commit of the user gives a new one, never given before by this ledger
	// (it counts the user's commits), nor by a ledger created again at the
	// same location (it carries the ledger's random epoch). A caller
	// derives the messageId of a changed event from its Hash and this
	// Version, so that a retry of the same content keeps its id while
	// content that comes back after another (A, B, A, B) gets a new one.
	Version Version
}

// Version is the version of a user's record in a ledger, opaque (today the
// ledger's epoch and the user's commit count, 8 bytes each); see State.
type Version [16]byte

// LookupStates is Lookup that also reports each entry's Version: it sets
// states[i] for batch[i], in one query for the whole batch. states must be
// at least as long as batch.
func (l *Ledger) LookupStates(ctx context.Context, batch []Entry, states []State) error {
	if len(states) < len(batch) {
		return errors.New("ledger: LookupStates: states is shorter than batch")
	}
	return l.lookup(ctx, batch, func(i int, found bool, stored Hash, gen uint64) {
		var v Version
		binary.BigEndian.PutUint64(v[:8], l.epoch)
		binary.BigEndian.PutUint64(v[8:], gen)
		states[i] = State{Unchanged: found && stored == batch[i].Hash, Version: v}
	})
}

// lookup queries the users of batch once and calls set for every entry with
// what the ledger holds for its user.
func (l *Ledger) lookup(ctx context.Context, batch []Entry, set func(i int, found bool, stored Hash, gen uint64)) error {
	if len(batch) == 0 {
		return nil
	}
	b := l.getBatch(batch)
	defer l.putBatch(b)
	b.stored = slices.Grow(b.stored[:0], len(b.keys))[:len(b.keys)]
	b.found = slices.Grow(b.found[:0], len(b.keys))[:len(b.keys)]
	b.gens = slices.Grow(b.gens[:0], len(b.keys))[:len(b.keys)]
	clear(b.found)
	clear(b.gens)
	if err := l.store.lookup(ctx, b.keys, b.stored, b.gens, b.found); err != nil {
		return err
	}
	for j := range b.keys {
		for _, i := range b.order[b.bounds[j]:b.bounds[j+1]] {
			set(int(i), b.found[j], b.stored[j], b.gens[j])
		}
	}
	return nil
}

// Commit records each entry's Hash as its user's, in one transaction: all
// or none of the batch is recorded. Of several entries of one user, the
// last one wins. Call it only for events Segment accepted: an entry
// committed for an event that was not delivered would make the next run
// skip that content. An accepted event that is never committed is merely
// sent again next time (under the same messageId, if the caller derives it
// from the content). When Commit returns nil, the entries survive a crash
// of the process.
func (l *Ledger) Commit(ctx context.Context, batch []Entry) error {
	if len(batch) == 0 {
		return nil
	}
	b := l.getBatch(batch)
	defer l.putBatch(b)
	b.stored = b.stored[:0]
	for j := range b.keys {
		b.stored = append(b.stored, batch[b.order[b.bounds[j+1]-1]].Hash)
	}
	return l.store.commit(ctx, b.keys, b.stored)
}

// Close releases the ledger's connections and files. Calls after Close fail.
func (l *Ledger) Close() error { return l.store.close() }

// batch is the scratch of one Lookup or Commit: the entries' user keys,
// unique and ascending, and for each the entries that have it.
type batch struct {
	pairs  []pair
	keys   []string
	order  []int32 // indexes into the caller's batch, by (key, index)
	bounds []int32 // keys[j] is the key of order[bounds[j]:bounds[j+1]]
	stored []Hash
	gens   []uint64
	found  []bool
}

type pair struct {
	key string
	i   int32
}

func (l *Ledger) getBatch(entries []Entry) *batch {
	b, _ := l.scratch.Get().(*batch)
	if b == nil {
		b = new(batch)
	}
	b.pairs = b.pairs[:0]
	for i, e := range entries {
		b.pairs = append(b.pairs, pair{userKey(e.User), int32(i)})
	}
	slices.SortFunc(b.pairs, func(x, y pair) int {
		if c := cmp.Compare(x.key, y.key); c != 0 {
			return c
		}
		return cmp.Compare(x.i, y.i)
	})
	b.keys, b.order, b.bounds = b.keys[:0], b.order[:0], b.bounds[:0]
	for n, p := range b.pairs {
		if n == 0 || p.key != b.pairs[n-1].key {
			b.keys = append(b.keys, p.key)
			b.bounds = append(b.bounds, int32(n))
		}
		b.order = append(b.order, p.i)
	}
	b.bounds = append(b.bounds, int32(len(b.pairs)))
	return b
}

// putBatch returns b to the pool without references to the caller's users.
func (l *Ledger) putBatch(b *batch) {
	clear(b.pairs)
	clear(b.keys)
	l.scratch.Put(b)
}

// maxUserBytes bounds the users the ledger keeps as they are; longer ones
// (far beyond any real id, and beyond what a PostgreSQL index entry holds)
// are kept as a hash.
const maxUserBytes = 512

// userKey is the ledger's key for user: the user with invalid UTF-8
// replaced by U+FFFD (as it travels to Segment), or, beyond maxUserBytes,
// "sha256:" and the hex SHA-256 of that. Were a real user spelled exactly
// like the hash of a long one, the two would share a slot and merely be
// sent every time, never wrongly skipped: the Hash stored for one never
// equals the Hash of the other's event, since a Hash covers userId and
// anonymousId.
func userKey(user string) string {
	user = strings.ToValidUTF8(user, "\uFFFD")
	if len(user) <= maxUserBytes {
		return user
	}
	sum := sha256.Sum256([]byte(user))
	return "sha256:" + hex.EncodeToString(sum[:])
}
