package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/perkflow/perkflow/domain"
)

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail,omitempty"`
	Errors []domain.FieldError `json:"errors,omitempty"`
}

const problemBase = "https://perkflow.dev/problems/"

// statusOf maps a domain error code to its HTTP status: the one place where that mapping lives.
var statusOf = map[domain.ErrorCode]int{
	domain.ErrInvalid:       http.StatusBadRequest,
	domain.ErrNotFound:      http.StatusNotFound,
	domain.ErrConflict:      http.StatusConflict,
	domain.ErrUnprocessable: http.StatusUnprocessableEntity,
	domain.ErrUnauthorized:  http.StatusUnauthorized,
	domain.ErrForbidden:     http.StatusForbidden,
}

var titleOf = map[int]string{
	http.StatusBadRequest:            "Invalid request",
	http.StatusUnauthorized:          "Authentication required",
	http.StatusForbidden:             "Not allowed",
	http.StatusNotFound:              "Not found",
	http.StatusMethodNotAllowed:      "Method not allowed",
	http.StatusConflict:              "Conflict",
	http.StatusRequestEntityTooLarge: "Request body too large",
	http.StatusUnsupportedMediaType:  "Unsupported media type",
	http.StatusUnprocessableEntity:   "Cannot be processed",
	http.StatusInternalServerError:   "Internal error",
	http.StatusServiceUnavailable:    "Temporarily unavailable",
}

var slugOf = map[int]string{
	http.StatusBadRequest:            "invalid-request",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not-found",
	http.StatusMethodNotAllowed:      "method-not-allowed",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: "body-too-large",
	http.StatusUnsupportedMediaType:  "unsupported-media-type",
	http.StatusUnprocessableEntity:   "unprocessable",
	http.StatusInternalServerError:   "internal",
	http.StatusServiceUnavailable:    "unavailable",
}

// writeProblem answers with a problem+json body.
func writeProblem(w http.ResponseWriter, status int, detail string, fields ...domain.FieldError) {
	p := Problem{Type: problemBase + slugOf[status], Title: titleOf[status], Status: status, Detail: detail, Errors: fields}
	if p.Title == "" {
		p.Title = http.StatusText(status)
		p.Type = "about:blank"
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeError answers with the problem matching err: a classified domain error gets its status and message; anything
// else is logged and answered 500 without detail, so that internals never leak.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var de *domain.Error
	if errors.As(err, &de) {
		status, ok := statusOf[de.Code]
		if !ok {
			status = http.StatusInternalServerError
		}
		writeProblem(w, status, de.Message, de.Fields...)
		return
	}
	s.log.ErrorContext(r.Context(), "request failed", slog.String("method", r.Method), slog.String("route", routePattern(r)), slog.Any("error", err))
	writeProblem(w, http.StatusInternalServerError, "an internal error occurred; it has been logged")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
