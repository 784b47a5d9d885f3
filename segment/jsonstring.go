package segment

// AppendJSONString appends s to dst as a quoted JSON string, escaped exactly
// as encoding/json escapes it (invalid UTF-8 becomes U+FFFD). It is the one
// JSON string encoder of the project: the payload, the result lines and the
// failed-items files all use it.
func AppendJSONString(dst []byte, s string) []byte { return appendString(dst, s) }
