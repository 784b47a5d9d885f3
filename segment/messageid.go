package segment

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// MessageIDPrefix starts every messageId MessageID makes.
const MessageIDPrefix = "sl-"

// MessageID returns the deterministic messageId of the item at index in the
// run identified by runKey for userID: "sl-" followed by 32 hex digits, the
// first 16 bytes of SHA-256 over the length-prefixed encoding
//
//	uint64be(len(runKey)) runKey  uint64be(index)  uint64be(len(userID)) userID
//
// so no two distinct triples share an input, and the same triple gives the
// same id in every process, on every platform and in every version of this
// package (the format is frozen: changing it would make resumed runs send
// duplicates). Segment drops an event whose messageId it saw in roughly the
// last 24 hours, so retries and re-runs of the same input are deduplicated.
// The result is 35 characters long. MessageID costs one allocation (the
// string) for inputs up to a few hundred bytes.
func MessageID(runKey string, index int64, userID string) string {
	var stack [256]byte
	buf := stack[:0]
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(runKey)))
	buf = append(buf, runKey...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(index))
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(userID)))
	buf = append(buf, userID...)
	sum := sha256.Sum256(buf)
	var out [len(MessageIDPrefix) + 32]byte
	copy(out[:], MessageIDPrefix)
	hex.Encode(out[len(MessageIDPrefix):], sum[:16])
	return string(out[:])
}
