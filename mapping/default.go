package mapping

import (
	"fmt"

	"github.com/segloop/segloop/segment"
)

// Default returns the mapping used when no mapping file is given:
//   - userId from the first present of the keys userId, user_id, id, and
//     anonymousId from anonymousId, anonymous_id (a string or a number);
//   - email and name from the keys of those names (strings);
//   - a traits key holding an object, or a string holding a JSON object, is
//     merged into the traits;
//   - every other key becomes a trait of the same name, with its value as
//     read (CSV cells stay strings, JSON keeps its types), and wins over the
//     same key inside traits;
//   - empty strings are left out, and keys starting with '_' (such as the
//     _status and _error columns of a failed-items file) are ignored.
//
// Bound to a header (ForHeader), it maps a row without a map: the trait
// columns go to segment.Identify.Columns and Row, sorted once per header, and
// a traits cell to TraitsJSON, spliced into the event undecoded; the event
// (and any error) is the one the row's map would give, but for the order of
// keys inside traits.
func Default() *Mapping { return &Mapping{def: true} }

// idKeys and anonKeys are the default mapping's identity keys, by priority.
var (
	idKeys   = [...]string{"userId", "user_id", "id"}
	anonKeys = [...]string{"anonymousId", "anonymous_id"}
)

func applyDefault(item map[string]any) (segment.Identify, error) {
	var id segment.Identify
	var err error
	if id.UserID, err = firstID(item, "userId", idKeys[:]); err != nil {
		return segment.Identify{}, err
	}
	if id.AnonymousID, err = firstID(item, "anonymousId", anonKeys[:]); err != nil {
		return segment.Identify{}, err
	}
	for _, k := range [...]string{"email", "name"} {
		v, ok := present(item, k)
		if !ok {
			continue
		}
		s, isStr := v.(string)
		if !isStr {
			return segment.Identify{}, &FieldError{Field: k, Err: typeErrorf("must be a string, got %s", kind(v))}
		}
		if k == "email" {
			id.Email = s
		} else {
			id.Name = s
		}
	}
	var traits map[string]any
	if v, ok := present(item, "traits"); ok {
		if traits, err = toObject(v); err != nil {
			return segment.Identify{}, &FieldError{Field: "traits", Err: err}
		}
	}
	for k, v := range item {
		if reserved(k) {
			continue
		}
		if s, isStr := v.(string); isStr && s == "" {
			continue
		}
		if traits == nil {
			traits = make(map[string]any, len(item))
		}
		traits[k] = v
	}
	id.Traits = nonEmpty(traits)
	return id, nil
}

// present returns item[k] unless it is missing, null or "".
func present(item map[string]any, k string) (any, bool) {
	v, ok := item[k]
	if !ok || v == nil {
		return nil, false
	}
	if s, isStr := v.(string); isStr && s == "" {
		return nil, false
	}
	return v, true
}

// firstID returns the first present of keys as the identity field name.
func firstID(item map[string]any, name string, keys []string) (string, error) {
	for _, k := range keys {
		v, ok := present(item, k)
		if !ok {
			continue
		}
		s, err := convert(kindID, v)
		if err != nil {
			return "", &FieldError{Field: name, Err: fmt.Errorf("column %q: %w", k, err)}
		}
		return s.(string), nil
	}
	return "", nil
}
