// Package domain holds perkflow's business types and rules: members, purchases, the points ledger, program settings
// and money. It is pure Go (standard library only) so that workflows, activities and the API can all use it, and its
// tests need nothing running.
package domain

import (
	"errors"
	"fmt"
	"strings"
)

// ErrorCode classifies a business error. Codes are mapped to HTTP statuses in exactly one place, at the API edge.
type ErrorCode string

// The error codes perkflow uses.
const (
	// ErrInvalid: the input breaks a validation rule; nothing was written.
	ErrInvalid ErrorCode = "invalid"
	// ErrNotFound: the thing asked for does not exist (or the caller may not know it exists).
	ErrNotFound ErrorCode = "not_found"
	// ErrConflict: the request clashes with existing state (duplicate email, reused transaction id).
	ErrConflict ErrorCode = "conflict"
	// ErrUnprocessable: well-formed, but the business cannot do it (not enough points, wrong currency).
	ErrUnprocessable ErrorCode = "unprocessable"
	// ErrUnauthorized: no valid credentials.
	ErrUnauthorized ErrorCode = "unauthorized"
	// ErrForbidden: valid credentials without the right role.
	ErrForbidden ErrorCode = "forbidden"
	// ErrGone: the thing asked for existed and is gone for good (a cancelled or expired coupon code).
	ErrGone ErrorCode = "gone"
)

// FieldError names one invalid field and says what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a classified business error.
type Error struct {
	Code    ErrorCode
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return e.Message + " (" + strings.Join(parts, "; ") + ")"
}

// Errorf builds a classified error.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first classified error in err's chain, or "" when there is none.
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Validation collects field errors; Err returns nil when there are none.
type Validation struct {
	fields []FieldError
}

// Add records that field is invalid.
func (v *Validation) Add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Check records the message for field when ok is false.
func (v *Validation) Check(ok bool, field, format string, args ...any) {
	if !ok {
		v.Add(field, format, args...)
	}
}

// Err returns an ErrInvalid error listing every field error, or nil.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &Error{Code: ErrInvalid, Message: "the request is invalid", Fields: v.fields}
}
