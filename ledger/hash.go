package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
)

// HashSize is the length of a Hash in bytes.
const HashSize = 16

// Hash identifies the content of an event: the first HashSize bytes of
// SHA-256 over "segloop-ledger-v1\x00" and the event's canonical form (see
// AppendCanonical). The zero Hash is never the hash of an event in practice;
// it means "none".
type Hash [HashSize]byte

// String returns h in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// hashDomain separates this package's hashes from every other use of
// SHA-256 and names the version of the canonical form: a new version makes
// every stored hash differ, so each user is sent once more, never skipped.
const hashDomain = "segloop-ledger-v1\x00"

// Sum returns the Hash of the serialized event in event: a JSON object such
// as segment.Identify.AppendJSON writes,
//
//	{"type":"identify","messageId":"sl-…","userId":"u1","traits":{…},"timestamp":"…","context":{…}}
//
// Two events have the same Hash exactly when they have the same canonical
// form, that is when they decode to the same JSON values apart from their
// top-level "type", "messageId", "timestamp", "originalTimestamp", "sentAt"
// and "receivedAt" fields: object keys in any order, numbers compared as
// exact decimal values, strings after unescaping. userId and anonymousId
// are part of the content, so the Hash of one user's event never equals the
// Hash of another user's.
//
// Sum reads event once, keeps no reference to it, is safe for concurrent
// use and, for events of the usual size (up to a few KB), allocates nothing.
// Anything but one JSON object is a *SyntaxError.
func Sum(event []byte) (Hash, error) {
	c := canonPool.Get().(*canonicalizer)
	defer putCanonicalizer(c)
	out, err := c.appendEvent(append(c.out[:0], hashDomain...), event)
	c.out = out[:0]
	if err != nil {
		return Hash{}, err
	}
	sum := sha256.Sum256(out)
	return Hash(sum[:HashSize]), nil
}

// AppendCanonical appends the canonical form of the serialized event in
// event to dst and returns the extended slice; on error dst is returned
// unchanged with a *SyntaxError. The canonical form is the JSON text that
// Sum hashes:
//
//   - the top-level fields "type", "messageId", "timestamp",
//     "originalTimestamp", "sentAt" and "receivedAt" are left out, at the top
//     level only (a "timestamp" trait is content);
//   - no white space;
//   - object members sorted bytewise by their canonical key text (which is
//     UTF-8 order for keys without '"', '\\' or control characters); of
//     members that share a key, the last one is kept, as encoding/json keeps
//     it;
//   - strings decoded, then written with only '"', '\\' and the control
//     characters escaped (\b \f \n \r \t, else \u00XX); invalid UTF-8 and
//     lone surrogates become U+FFFD, as encoding/json decodes them, so
//     "\u00e9" and "é" are one string;
//   - numbers as exact decimal values in one spelling: 1, 1.0, 1e0, 10E-1
//     and 0.1e1 are all written 1; 12345678901234567890123 keeps every
//     digit (no float64 rounding), and so does 0.1000000000000000055511;
//     1e21 and beyond, and 1e-7 and below, are written 1e+21, 1e-7; -0 and
//     0.0 are 0 (negative zero is zero, as it is in JavaScript, and
//     segment.Identify.AppendJSON writes the float -0 as "-0");
//   - true, false, null and array order as they are.
//
// Values are compared as JSON, not as the item's source spelled them: a CSV
// cell is a string, so traits {"seats":"1"} and {"seats":"1.0"} differ;
// mapped through the int or float filter ({{item.seats | int}}) both become
// the number 1 and are equal. The same holds for "true" versus true.
func AppendCanonical(dst, event []byte) ([]byte, error) {
	c := canonPool.Get().(*canonicalizer)
	defer putCanonicalizer(c)
	out, err := c.appendEvent(dst, event)
	c.out = nil // dst is the caller's
	return out, err
}

var canonPool = sync.Pool{New: func() any { return new(canonicalizer) }}

// maxPooled bounds the scratch buffers kept in canonPool.
const maxPooled = 64 << 10

func putCanonicalizer(c *canonicalizer) {
	if cap(c.out) > maxPooled || cap(c.tmp) > maxPooled || cap(c.members) > maxPooled/24 {
		return
	}
	c.out = c.out[:0]
	canonPool.Put(c)
}
