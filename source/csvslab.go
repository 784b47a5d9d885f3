package source

// cellSlab hands out the []string of each row from larger blocks, so that a
// row's cells slice costs no allocation of its own (the cells' text comes
// from an arena.Arena the same way). A slice handed out has its capacity cut
// to its length, so appending to it copies instead of overwriting the next
// row's cells. A block lives as long as any row's cells cut from it.
type cellSlab struct {
	block []string
}

// slabStrings is the size of a cellSlab's blocks, in strings (64 KiB).
const slabStrings = 4096

// take returns a slice of n empty strings that no other row shares.
func (s *cellSlab) take(n int) []string {
	if n > len(s.block) {
		s.block = make([]string, max(slabStrings, n))
	}
	out := s.block[:n:n]
	s.block = s.block[n:]
	return out
}
