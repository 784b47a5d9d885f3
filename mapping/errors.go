package mapping

import (
	"errors"
	"fmt"
)

// SyntaxError reports a mapping that Parse rejects: bad JSON, an unknown
// field, a malformed placeholder, an unknown filter, a literal of the wrong
// type or a limit exceeded.
type SyntaxError struct {
	Field       string // path of the field at fault, such as "traits.seats"; "" for the whole file
	Placeholder string // the placeholder as written, such as "{{item.seats | itn}}"; "" if none
	Err         error
}

func (e *SyntaxError) Error() string {
	msg := "mapping: "
	if e.Field != "" {
		msg += e.Field + ": "
	}
	if e.Placeholder != "" {
		msg += e.Placeholder + ": "
	}
	return msg + e.Err.Error()
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// FieldError reports a field that could not be mapped for one item: a filter
// that failed or a value of the wrong type. The item is invalid; others may
// be fine.
type FieldError struct {
	Field string // path of the field, such as "traits.seats"
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// Errors wrapped by FieldError and SyntaxError, for errors.Is.
var (
	// ErrType: a value cannot be converted as a filter or field requires.
	ErrType = errors.New("wrong type")
	// ErrLimit: a mapping or its output exceeds a safety limit.
	ErrLimit = errors.New("limit exceeded")
)

// typeError is a conversion failure; it matches ErrType.
type typeError struct{ msg string }

func (e *typeError) Error() string        { return e.msg }
func (e *typeError) Is(target error) bool { return target == ErrType }

func typeErrorf(format string, args ...any) error {
	return &typeError{msg: fmt.Sprintf(format, args...)}
}
