package notifier

import (
	"errors"
	"fmt"
)

// Code classifies an error for the user: the HTTP API maps each code to a status.
type Code string

// The error codes. Anything without a code is internal: the user sees a
// generic message and the log has the detail.
const (
	CodeInvalid      Code = "invalid"      // the input is wrong; Details says where
	CodeBadRequest   Code = "bad_request"  // the request itself is malformed (syntax, path)
	CodeNotFound     Code = "not_found"    // no such thing (or not yours to see)
	CodeConflict     Code = "conflict"     // the state does not allow it
	CodeForbidden    Code = "forbidden"    // authenticated, but the role does not allow it
	CodeUnauthorized Code = "unauthorized" // no valid credentials
	CodeTooLarge     Code = "too_large"    // the body is over the limit
	CodeUnsupported  Code = "unsupported"  // an unsupported media type
	CodeRateLimited  Code = "rate_limited" // too many requests from this client; retry later
	// CodeMethodNotAllowed is a known path with the wrong method.
	CodeMethodNotAllowed Code = "method_not_allowed"
	CodeInternal         Code = "internal" // a bug or an outage; never shown in detail
)

// Error is a domain error with a code, a message fit for the user and
// optional structured details (such as the bad rows of an import).
type Error struct {
	Code    Code
	Message string
	Details any
	// Err is the underlying cause, for logs only.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal when there is none.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the user-facing message of err: the *Error's message,
// or a generic one for internal errors so nothing about SQL or stacks leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error; the server log has the details"
}

// ErrorDetails returns the structured details of err's *Error, if any.
func ErrorDetails(err error) any {
	var e *Error
	if errors.As(err, &e) {
		return e.Details
	}
	return nil
}

// RowError is one problem with one line of an import.
type RowError struct {
	Line    int    `json:"line"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (r RowError) String() string {
	return fmt.Sprintf("line %d, field %s: %s", r.Line, r.Field, r.Message)
}

// ImportRejected returns the error for an import with bad rows: nothing was
// written, and Details lists every bad row.
func ImportRejected(rows []RowError) *Error {
	return &Error{
		Code:    CodeInvalid,
		Message: fmt.Sprintf("import rejected: %d problem(s); nothing was written", len(rows)),
		Details: rows,
	}
}
