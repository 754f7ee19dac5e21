package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/perkflow/perkflow/domain"
)

// Errors mapped once. Every error a request ends with is answered by fail, which finds its code in problemTypes —
// the one table where error codes meet HTTP statuses and problem types — and writes an RFC 9457 problem document
// (docs/api.md, "Errors"). Handlers build errors (domain.Errorf, a domain.Validation, or what the store returned)
// and pass them to fail; none of them picks a status.

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail,omitempty"`
	Errors []domain.FieldError `json:"errors,omitempty"`
}

// problemBase is where the problem types are documented (GET /docs/problems, one anchor per type): a relative
// reference, resolved against the API's own address, so that every type URI opens its description.
const problemBase = "/docs/problems#"

// The API's own error codes, beside the domain's (domain/errors.go): what only the HTTP edge refuses.
const (
	errNoRoute          domain.ErrorCode = "no_route"
	errMethodNotAllowed domain.ErrorCode = "method_not_allowed"
	errBodyTooLarge     domain.ErrorCode = "body_too_large"
	errUnsupportedMedia domain.ErrorCode = "unsupported_media_type"
	errTooManyRequests  domain.ErrorCode = "too_many_requests"
	errUnavailable      domain.ErrorCode = "unavailable"
	errInternal         domain.ErrorCode = "internal"
)

const (
	// internalErrorDetail is all a client learns of an error the table does not map.
	internalErrorDetail = "an internal error occurred; it has been logged"
)

// problemType is how one error code is answered.
type problemType struct {
	status int
	slug   string // the problem type is problemBase + slug
	title  string
}

// problemTypes maps every error code to its HTTP status and problem type: the one place where that mapping lives.
// A code missing here is answered as errInternal.
var problemTypes = map[domain.ErrorCode]problemType{
	domain.ErrInvalid:       {http.StatusBadRequest, "invalid-request", "Invalid request"},
	domain.ErrUnauthorized:  {http.StatusUnauthorized, "unauthorized", "Authentication required"},
	domain.ErrForbidden:     {http.StatusForbidden, "forbidden", "Not allowed"},
	domain.ErrNotFound:      {http.StatusNotFound, "not-found", "Not found"},
	domain.ErrConflict:      {http.StatusConflict, "conflict", "Conflict"},
	domain.ErrUnprocessable: {http.StatusUnprocessableEntity, "unprocessable", "Cannot be processed"},
	domain.ErrGone:          {http.StatusGone, "gone", "Gone"},

	errNoRoute:             {http.StatusNotFound, "not-found", "Not found"},
	errMethodNotAllowed:    {http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed"},
	errBodyTooLarge:        {http.StatusRequestEntityTooLarge, "body-too-large", "Request body too large"},
	errUnsupportedMedia:    {http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type"},
	errTooManyRequests:     {http.StatusTooManyRequests, "too-many-requests", "Too many requests"},
	errUnavailable:         {http.StatusServiceUnavailable, "unavailable", "Temporarily unavailable"},
	errPostgresUnavailable: {http.StatusServiceUnavailable, "postgres-unavailable", "Database unavailable"},
	errTemporalUnavailable: {http.StatusServiceUnavailable, "temporal-unavailable", "Workflow service unavailable"},
	errInternal:            {http.StatusInternalServerError, "internal", "Internal error"},
	errUndecodable:         {http.StatusUnprocessableEntity, "payload-undecodable", "Payload cannot be decoded"},
}

// problem builds an error of the API's own codes (or a domain code) with a detail and, for validation, its fields.
func problem(code domain.ErrorCode, detail string, fields ...domain.FieldError) *domain.Error {
	return &domain.Error{Code: code, Message: detail, Fields: fields}
}

// retryLater is an error whose answer tells the client when to try again (Retry-After). Its cause, when it has one,
// is logged and never answered.
type retryLater struct {
	err   *domain.Error
	after time.Duration
	cause error
}

func (e *retryLater) Error() string { return e.err.Error() }
func (e *retryLater) Unwrap() error { return e.err }

// tooManyRequests is a 429 with Retry-After in whole seconds (at least 1).
func tooManyRequests(after time.Duration, detail string) error {
	return &retryLater{err: problem(errTooManyRequests, detail), after: after}
}

// unavailable is a 503 with Retry-After: nothing was done, and the same request may be sent again.
func unavailable(after time.Duration, detail string, cause error) error {
	return &retryLater{err: problem(errUnavailable, detail), after: after, cause: cause}
}

// classify finds the classified error in err's chain: a *domain.Error, or a Temporal application error whose type
// is a domain code (how workflows and activities carry a domain error across Temporal). nil when there is none.
func classify(err error) *domain.Error {
	var de *domain.Error
	if errors.As(err, &de) {
		return de
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return &domain.Error{Code: domain.ErrorCode(appErr.Type()), Message: appErr.Message()}
	}
	return nil
}

// codeOf is the code of the classified error in err's chain (classify), or "".
func codeOf(err error) domain.ErrorCode {
	if de := classify(err); de != nil {
		return de.Code
	}
	return ""
}

// fail answers the request with the problem err maps to. A classified error gets its code's status and problem
// type, its message as the detail and its field errors; anything else — an unclassified error, or a code the table
// does not know — is logged with its cause and answered 500 "internal error", so that internals never leak.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	if de := classify(err); de == nil || problemTypes[de.Code].status == 0 {
		// An outage of Postgres or Temporal is a 503 that names it, wherever the error arose.
		if o := outage(err); o != nil {
			err = o
		}
	}
	de := classify(err)
	pt, known := problemType{}, false
	if de != nil {
		pt, known = problemTypes[de.Code]
	}
	if !known || de.Code == errInternal {
		logFrom(ctx).ErrorContext(ctx, "request failed", slog.String("method", r.Method), slog.String("route", routePattern(r)),
			slog.Any("error", err))
		writeProblem(w, problemTypes[errInternal], internalErrorDetail)
		return
	}
	var rl *retryLater
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(rl.after.Seconds())))))
		if rl.cause != nil {
			logFrom(ctx).WarnContext(ctx, "asked the client to retry later", slog.String("route", routePattern(r)),
				slog.Any("error", rl.cause))
		}
	}
	writeProblem(w, pt, de.Message, de.Fields...)
}

// writeProblem writes a problem+json body. Only fail calls it.
func writeProblem(w http.ResponseWriter, pt problemType, detail string, fields ...domain.FieldError) {
	p := Problem{Type: problemBase + pt.slug, Title: pt.title, Status: pt.status, Detail: detail, Errors: fields}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(pt.status)
	_ = json.NewEncoder(w).Encode(p)
}

// temporalRefused is the error of a call to Temporal that did not go through: when Temporal refused it, could not be
// reached or did not answer in time, a 503 with Retry-After that says whether the call may have been accepted
// (temporalOutage); any other error as it is.
func temporalRefused(err error) error {
	if o := temporalOutage(err); o != nil {
		return o
	}
	return err
}
