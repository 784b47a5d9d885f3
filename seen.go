package segloop

import (
	"hash/maphash"
	"math/bits"
)

// userSet is the set of users that a diff run has sent (or found sent by an
// earlier part of the run, through its checkpoint), so that a later item of
// one of them is sent as well: the ledger's hash for that user is then stale
// (the earlier item is still in flight, or was sent and failed), and
// comparing with it could call a change back to an old value unchanged.
//
// The first maxExactUsers users are kept as 64-bit hashes (maphash, seeded
// per run) in a map: some 2 MiB, and a user never added is held with a
// probability of about n/2⁶⁴. Beyond them the set is a Bloom filter: it may
// hold a user never added (that user's items are then sent although
// unchanged: a lost saving, never a lost update), and always holds a user
// added. A user sets six bits of one 64-bit word of
// the newest layer (a blocked filter: one cache line per layer and lookup);
// a layer takes 2 users per word (about 0.05% false positives per full
// layer, 0.2% over five), and a full layer is followed by one twice its
// size. Layers stop growing at maxSetWords words in all (16 MiB, some 4
// million users); past that the last layer fills up and false positives
// grow, but memory does not. The zero value is empty and ready; it is not safe for concurrent use.
type userSet struct {
	seed   maphash.Seed
	exact  map[uint64]struct{}
	layers []setLayer
	words  int // in all layers
}

type setLayer struct {
	words []uint64
	n     int // users added to this layer
}

const (
	maxExactUsers  = 1 << 16
	firstSetWords  = 1 << 12 // the first layer: 32 KiB, 8,192 users
	usersPerWord   = 2
	maxSetWords    = 1 << 21 // 16 MiB in all
	setBitsPerUser = 6
)

// add puts user in the set.
func (s *userSet) add(user string) {
	if s.exact == nil {
		s.seed = maphash.MakeSeed()
		s.exact = make(map[uint64]struct{})
	}
	h := maphash.String(s.seed, user)
	if len(s.exact) < maxExactUsers {
		s.exact[h] = struct{}{}
		return
	}
	if _, ok := s.exact[h]; ok {
		return
	}
	if n := len(s.layers); n == 0 || (s.layers[n-1].n >= len(s.layers[n-1].words)*usersPerWord && s.words+firstSetWords<<n <= maxSetWords) {
		size := firstSetWords << n
		s.layers = append(s.layers, setLayer{words: make([]uint64, size)}) // sizes 2^12..2^20: 2^21 - 2^12 words at most
		s.words += size
	}
	l := &s.layers[len(s.layers)-1]
	w, mask := slot(h, len(s.layers)-1, len(l.words))
	l.words[w] |= mask
	l.n++
}

// has reports whether user may have been added: always true for one that
// was, rarely for one that was not.
func (s *userSet) has(user string) bool {
	if s.exact == nil {
		return false
	}
	h := maphash.String(s.seed, user)
	if _, ok := s.exact[h]; ok {
		return true
	}
	for i := range s.layers {
		l := &s.layers[i]
		if w, mask := slot(h, i, len(l.words)); l.words[w]&mask == mask {
			return true
		}
	}
	return false
}

// slot returns the word and the bits of hash h in layer i of n words.
func slot(h uint64, i, n int) (int, uint64) {
	h = mix(h + uint64(i)*0x9e3779b97f4a7c15)
	w, _ := bits.Mul64(h, uint64(n)) // h scaled to [0, n)
	m := mix(h ^ 0xbf58476d1ce4e5b9)
	var mask uint64
	for range setBitsPerUser {
		mask |= 1 << (m & 63)
		m >>= 6
	}
	return int(w), mask
}

// mix is splitmix64's finaliser: every bit of h affects every bit of the
// result.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}
