package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
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
	if fe := checkStrictJSON(body, reflect.TypeOf(dst)); fe != nil {
		writeProblem(w, http.StatusBadRequest, fe.Field+" "+fe.Message, *fe)
		return false
	}
	return true
}

// checkStrictJSON closes the gaps encoding/json leaves open, walking the (already decoded, so well-formed) body
// against the type it was decoded into: a field name must match a field's JSON name exactly (encoding/json would
// take "EMAIL" for "email"), no object may name a field twice (encoding/json keeps the last, another parser the
// first), null is only accepted where the type can hold it (pointers and interfaces), and no string may contain
// U+0000, which Postgres cannot store. It returns the first problem found.
func checkStrictJSON(body []byte, t reflect.Type) *domain.FieldError {
	if t.Kind() == reflect.Pointer {
		t = t.Elem() // dst itself: the body must be its value, not null
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	w := strictWalker{dec: dec}
	if err := w.value(t, ""); err != nil {
		return err
	}
	return nil
}

type strictWalker struct {
	dec *json.Decoder
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func (w *strictWalker) value(t reflect.Type, path string) *domain.FieldError {
	tok, err := w.dec.Token()
	if err != nil {
		return &domain.FieldError{Field: fieldName(path), Message: "is not valid JSON"}
	}
	nullable := t == nil
	for t != nil && t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	if t != nil && (t.Kind() == reflect.Interface || t == rawMessageType) {
		t, nullable = nil, true
	}
	if t != nil && reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		t = nil // decodes itself (time.Time…): still walked for keys and NULs, as an unknown shape
	}
	switch v := tok.(type) {
	case nil:
		if !nullable {
			return &domain.FieldError{Field: fieldName(path), Message: "must not be null"}
		}
	case string:
		if strings.ContainsRune(v, 0) {
			return &domain.FieldError{Field: fieldName(path), Message: "must not contain the NUL character"}
		}
	case json.Delim:
		switch v {
		case '{':
			return w.object(t, path)
		case '[':
			var elem reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			for i := 0; w.dec.More(); i++ {
				if err := w.value(elem, path+"["+strconv.Itoa(i)+"]"); err != nil {
					return err
				}
			}
			_, _ = w.dec.Token() // ]
		}
	}
	return nil
}

func (w *strictWalker) object(t reflect.Type, path string) *domain.FieldError {
	var fields map[string]reflect.Type
	var elem reflect.Type
	if t != nil && t.Kind() == reflect.Struct {
		fields = jsonFields(t)
	} else if t != nil && t.Kind() == reflect.Map {
		elem = t.Elem()
	}
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return &domain.FieldError{Field: fieldName(path), Message: "is not valid JSON"}
		}
		key, _ := tok.(string)
		sub := key
		if path != "" {
			sub = path + "." + key
		}
		if strings.ContainsRune(key, 0) {
			return &domain.FieldError{Field: fieldName(path), Message: "has a field name with the NUL character"}
		}
		if seen[key] {
			return &domain.FieldError{Field: fieldName(sub), Message: "appears twice"}
		}
		seen[key] = true
		ft := elem
		if fields != nil {
			var ok bool
			if ft, ok = fields[key]; !ok {
				return &domain.FieldError{Field: fieldName(sub), Message: "is not a known field (names are case-sensitive)"}
			}
		}
		if err := w.value(ft, sub); err != nil {
			return err
		}
	}
	_, _ = w.dec.Token() // }
	return nil
}

// jsonFields maps the JSON names of a struct's fields, as encoding/json sees them (embedded structs' fields
// promoted; the shallower field wins), to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var walk func(t reflect.Type, depth int, depthOf map[string]int)
	walk = func(t reflect.Type, depth int, depthOf map[string]int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					walk(et, depth+1, depthOf)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if d, ok := depthOf[name]; !ok || depth < d {
				out[name], depthOf[name] = ft, depth
			}
		}
	}
	walk(t, 0, map[string]int{})
	return out
}

// fieldName bounds a field path taken from the request before it is quoted back.
func fieldName(path string) string {
	if path == "" {
		return "body"
	}
	if len(path) > 128 {
		return strings.ToValidUTF8(path[:128], "") + "…"
	}
	return path
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
		name := fieldName(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
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
