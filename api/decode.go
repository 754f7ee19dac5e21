package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/perkflow/perkflow/domain"
)

// MaxBodyBytes is the largest request body accepted (1 MiB); larger → 413.
const MaxBodyBytes = 1 << 20

// decodeJSON reads one JSON object into dst. Unknown fields, trailing data, invalid UTF-8 and wrong types are
// rejected with a 400 that names the field; bodies over MaxBodyBytes get 413. It answers the request itself on
// failure and returns false.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			writeProblem(w, http.StatusUnsupportedMediaType, "send the body as application/json")
			return false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeProblem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body must be at most %d bytes", MaxBodyBytes))
		return false
	}
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "the body could not be read")
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		writeProblem(w, http.StatusBadRequest, "a JSON body is required")
		return false
	}
	if !utf8.Valid(body) {
		writeProblem(w, http.StatusBadRequest, "the body is not valid UTF-8")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		detail, field := describeJSONError(err)
		if field != "" {
			writeProblem(w, http.StatusBadRequest, detail, domain.FieldError{Field: field, Message: detail})
		} else {
			writeProblem(w, http.StatusBadRequest, detail)
		}
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeProblem(w, http.StatusBadRequest, "the body must hold exactly one JSON object")
		return false
	}
	return true
}

func describeJSONError(err error) (detail, field string) {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tp *time.ParseError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset), ""
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "the body must be a JSON object", ""
		}
		return fmt.Sprintf("%s must be a %s", typ.Field, jsonKind(typ.Type.Kind().String())), typ.Field
	case errors.As(err, &tp):
		return "a timestamp must be in RFC 3339 form, such as 2026-11-21T10:00:00Z", ""
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON body ends too early", ""
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return "unknown field " + name, name
	}
	return "the body is not valid JSON for this request", ""
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64", "int32", "uint", "uint64":
		return "whole number within range"
	case "bool":
		return "boolean"
	case "slice":
		return "list"
	case "struct", "map":
		return "object"
	}
	return k
}
