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
// string) for inputs up to a few hundred bytes; AppendMessageID none.
func MessageID(runKey string, index int64, userID string) string {
	var out [MessageIDLen]byte
	return string(AppendMessageID(out[:0], runKey, index, userID))
}

// MessageIDLen is the length of every messageId MessageID makes.
const MessageIDLen = len(MessageIDPrefix) + 32

// AppendMessageID appends MessageID(runKey, index, userID) to dst.
func AppendMessageID(dst []byte, runKey string, index int64, userID string) []byte {
	var stack [256]byte
	buf := stack[:0]
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(runKey)))
	buf = append(buf, runKey...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(index))
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(userID)))
	buf = append(buf, userID...)
	sum := sha256.Sum256(buf)
	dst = append(dst, MessageIDPrefix...)
	return hex.AppendEncode(dst, sum[:16])
}
