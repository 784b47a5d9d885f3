// Package arena cuts byte slices and strings out of large blocks that are
// written once, so that the many small values of a stream (the cells of CSV
// rows, encoded events, messageIds) cost a small fraction of an allocation
// each instead of one allocation apiece.
//
// An Arena builds one value at a time at the end of its current block (the
// pending value: Append, AppendByte, Reset) and then seals it (Bytes or
// Text). A sealed value's bytes are never written again by the Arena, which
// is what makes the strings Text returns immutable, as Go requires of a
// string made with unsafe.String. A block stays alive as long as any value
// cut from it does; a value that does not fit in what is left of a block
// moves, pending part and all, to a new block.
package arena

import "unsafe"

// BlockSize is the size of an Arena's blocks; a value larger than a block
// gets a block of its own.
const BlockSize = 64 << 10

// Arena hands out values cut from write-once blocks. The zero value is ready
// to use. An Arena is not safe for concurrent use; the values it hands out
// are safe to share.
type Arena struct {
	block []byte // sealed values, then the pending one
	start int    // where the pending value begins in block
}

// Append appends p to the pending value.
func (a *Arena) Append(p []byte) {
	if len(a.block)+len(p) > cap(a.block) {
		a.grow(len(p))
	}
	a.block = append(a.block, p...)
}

// AppendString appends s to the pending value.
func (a *Arena) AppendString(s string) {
	if len(a.block)+len(s) > cap(a.block) {
		a.grow(len(s))
	}
	a.block = append(a.block, s...)
}

// AppendByte appends b to the pending value.
func (a *Arena) AppendByte(b byte) {
	if len(a.block) == cap(a.block) {
		a.grow(1)
	}
	a.block = append(a.block, b)
}

// Len returns the length of the pending value.
func (a *Arena) Len() int { return len(a.block) - a.start }

// Reset drops the pending value.
func (a *Arena) Reset() { a.block = a.block[:a.start] }

// grow moves the pending value to a new block with room for n more bytes,
// doubling for a value that keeps growing, so that building a large value
// costs linear time.
func (a *Arena) grow(n int) {
	pending := a.block[a.start:]
	next := make([]byte, len(pending), max(BlockSize, 2*(len(pending)+n)))
	copy(next, pending)
	a.block, a.start = next, 0
}

// seal ends the pending value and returns its bytes.
func (a *Arena) seal() []byte {
	v := a.block[a.start:len(a.block):len(a.block)]
	a.start = len(a.block)
	return v
}

// Bytes seals the pending value and returns it; its capacity is its length,
// so appending to it copies it instead of writing into the block. The
// caller may read it for as long as it likes; writing to it is allowed but
// affects only it.
func (a *Arena) Bytes() []byte { return a.seal() }

// Text seals the pending value and returns it as a string, without copying.
func (a *Arena) Text() string {
	v := a.seal()
	if len(v) == 0 {
		return ""
	}
	return unsafe.String(&v[0], len(v))
}
