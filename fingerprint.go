package segloop

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/segloop/segloop/source"
)

// FileInput describes a file input for Fingerprint: its absolute path, size
// and modification time, and the format and delimiter it is read with. A file
// changed in any of these reads as another input.
func FileInput(path string, format source.Format, delimiter rune) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("input %q %s %q\nsize %d modified %d\n", abs, format, delimiter, st.Size(), st.ModTime().UnixNano()), nil
}

// StreamInput describes a stream, such as stdin, for Fingerprint. A stream
// has no identity of its own: name is what the caller calls it (the
// command's --run-key).
func StreamInput(name string, format source.Format, delimiter rune) string {
	return fmt.Sprintf("input %q %s %q\nstream %q\n", "-", format, delimiter, name)
}

// QueryInput describes a database query for Fingerprint. description
// identifies the query without any secret (sqlsource.Query.Description: the
// URL without its password, the key and the query text); name is what the
// caller calls the rows (the command's --run-key, or ""). A query's rows may
// change while its text stays the same: the name is the only way a caller
// can tell one reading of it from another.
func QueryInput(description, name string) string {
	return fmt.Sprintf("input query %q\n%s\n", name, description)
}

// Fingerprint identifies what a run sends: the input (as FileInput,
// StreamInput or QueryInput describe it), and the mapping and trigger files that shape its
// events. Runs with one fingerprint read the same items and send the same
// events, so a checkpoint of one is valid for the other. It is 32 hex digits.
func Fingerprint(input string, mapping, trigger []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%smap %d:%s\ntrigger %d:%s\n", input, len(mapping), mapping, len(trigger), trigger)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// DestinationFingerprint is fingerprint tied to where the events go (an
// endpoint, or "sandbox"): a record of items delivered to one place must not
// skip them when sending to another.
func DestinationFingerprint(fingerprint, destination string) string {
	sum := sha256.Sum256([]byte(fingerprint + "\nto " + destination))
	return hex.EncodeToString(sum[:16])
}

// DerivedRunKey is the run key of a run that names none: derived from its
// fingerprint, so running an unchanged input again sends the same messageIds
// (Segment drops the duplicates) while a changed input gets new ones.
func DerivedRunKey(fingerprint string) string {
	sum := sha256.Sum256([]byte(fingerprint + "\n"))
	return hex.EncodeToString(sum[:12])
}

// NewRunKey returns a random run key, for runs whose input cannot be told
// apart from another's (a stream without a name, a service's run).
func NewRunKey() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
