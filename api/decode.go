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
	"sync"
	"time"
	"unicode/utf8"

	"github.com/perkflow/perkflow/domain"
)

// Request bodies are decoded strictly: one JSON object of the route's request type, nothing unknown, duplicated or
// ambiguous (docs/api.md, "Conventions").

// decodeJSON reads one JSON object into dst. Unknown fields, trailing data, invalid UTF-8 and wrong types are
// rejected with a 400 that names the field; bodies over MaxBodyBytes get 413. It answers the request itself on
// failure and returns false.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			fail(w, r, problem(errUnsupportedMedia, "send the body as application/json"))
			return false
		}
	}
	// The body a guard buffered already, or read now with the same limit and answers.
	_, body, ok := bodyOf(w, r)
	if !ok {
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		fail(w, r, problem(domain.ErrInvalid, "a JSON body is required"))
		return false
	}
	if !utf8.Valid(body) {
		fail(w, r, problem(domain.ErrInvalid, "the body is not valid UTF-8"))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		detail, field := describeJSONError(err)
		if field == "" && json.Valid(body) {
			// A value that decodes itself (a timestamp…) failed: encoding/json does not say where, so find it.
			if fe := failingValue(body, reflect.TypeOf(dst)); fe != nil {
				detail, field = fe.Field+" "+fe.Message, fe.Field
			}
		}
		if field != "" {
			fail(w, r, problem(domain.ErrInvalid, detail, domain.FieldError{Field: field, Message: detail}))
		} else {
			fail(w, r, problem(domain.ErrInvalid, detail))
		}
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		fail(w, r, problem(domain.ErrInvalid, "the body must hold exactly one JSON object"))
		return false
	}
	if fe := checkStrictJSON(body, reflect.TypeOf(dst)); fe != nil {
		fail(w, r, problem(domain.ErrInvalid, fe.Field+" "+fe.Message, *fe))
		return false
	}
	return true
}

// checkStrictJSON closes the gaps encoding/json leaves open, walking the body (already decoded, so one well-formed
// JSON value) against the type it was decoded into: a field name must match a field's JSON name exactly
// (encoding/json would take "EMAIL" for "email"), no object may name a field twice (encoding/json keeps the last,
// another parser the first), null is only accepted where the type can hold it (pointers, interfaces, raw JSON), and
// no string may contain U+0000, which Postgres cannot store. It returns the first problem found. It scans the bytes
// itself rather than through json.Decoder.Token, which costs several times the decoding.
func checkStrictJSON(body []byte, t reflect.Type) *domain.FieldError {
	if t.Kind() == reflect.Pointer {
		t = t.Elem() // dst itself: the body must be its value, not null
	}
	w := strictWalker{b: body}
	return w.value(t, nil)
}

// jsonPath is where the walker is, built into a field name only for an error.
type jsonPath struct {
	parent *jsonPath
	key    string
	index  int // for array elements, when key is ""
}

func (p *jsonPath) String() string {
	if p == nil {
		return ""
	}
	parent := p.parent.String()
	if p.key == "" {
		return parent + "[" + strconv.Itoa(p.index) + "]"
	}
	if parent == "" {
		return p.key
	}
	return parent + "." + p.key
}

// failingValue finds the first value in body (well-formed JSON) of a type that decodes itself, such as time.Time,
// that does not decode, and names it.
func failingValue(body []byte, t reflect.Type) *domain.FieldError {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	w := strictWalker{b: body, decodeSelf: true}
	return w.value(t, nil)
}

func derefType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// selfDecodingMessage says what a value of a type that decodes itself must look like.
func selfDecodingMessage(t reflect.Type) string {
	if t == reflect.TypeFor[time.Time]() {
		return "must be an RFC 3339 timestamp, such as 2026-11-21T10:00:00Z"
	}
	return "is not a valid value"
}

func problemAt(p *jsonPath, msg string) *domain.FieldError {
	return &domain.FieldError{Field: fieldName(p.String()), Message: msg}
}

type strictWalker struct {
	b []byte
	i int
	// decodeSelf: also decode every value of a type that decodes itself, and report the first that fails.
	decodeSelf bool
}

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	nulEscape       = []byte(`\u0000`)
)

// shape is what the walker needs to know of a type, cached per type.
type shape struct {
	nullable bool
	kind     reflect.Kind // Struct, Map, Slice/Array, or Invalid for anything whose inside is not checked
	fields   map[string]reflect.Type
	elem     reflect.Type
}

var shapes sync.Map // reflect.Type → shape

func shapeOf(t reflect.Type) shape {
	if t == nil {
		return shape{nullable: true}
	}
	if sh, ok := shapes.Load(t); ok {
		return sh.(shape)
	}
	var sh shape
	u := t
	for u.Kind() == reflect.Pointer {
		u, sh.nullable = u.Elem(), true
	}
	switch {
	case u.Kind() == reflect.Interface || u == rawMessageType:
		sh.nullable = true
	case reflect.PointerTo(u).Implements(unmarshalerType):
		// decodes itself (time.Time…): still walked for keys and NULs, as an unknown shape
	case u.Kind() == reflect.Struct:
		sh.kind, sh.fields = reflect.Struct, jsonFields(u)
	case u.Kind() == reflect.Map:
		sh.kind, sh.elem = reflect.Map, u.Elem()
	case u.Kind() == reflect.Slice || u.Kind() == reflect.Array:
		sh.kind, sh.elem = reflect.Slice, u.Elem()
	}
	shapes.Store(t, sh)
	return sh
}

func (w *strictWalker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// str reads the string starting at w.i (its opening quote): its raw content and whether it has escapes.
func (w *strictWalker) str() (raw []byte, escaped bool) {
	start := w.i + 1
	for j := start; j < len(w.b); j++ {
		switch w.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			w.i = j + 1
			return w.b[start:j], escaped
		}
	}
	w.i = len(w.b)
	return w.b[start:], escaped
}

// unescape decodes a string's raw content.
func unescape(raw []byte, escaped bool) string {
	if !escaped {
		return string(raw)
	}
	var s string
	_ = json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s)
	return s
}

// hasNUL: a JSON string can only hold U+0000 as an escape.
func hasNUL(raw []byte, escaped bool) bool {
	return escaped && bytes.Contains(raw, nulEscape) && strings.ContainsRune(unescape(raw, true), 0)
}

func (w *strictWalker) value(t reflect.Type, path *jsonPath) *domain.FieldError {
	w.space()
	if w.i >= len(w.b) {
		return problemAt(path, "is not valid JSON")
	}
	sh := shapeOf(t)
	if u := derefType(t); w.decodeSelf && u != nil && sh.kind == reflect.Invalid && u.Kind() != reflect.Interface &&
		u != rawMessageType && reflect.PointerTo(u).Implements(unmarshalerType) && w.b[w.i] != 'n' {
		start := w.i
		w.decodeSelf = false
		fe := w.value(t, path)
		w.decodeSelf = true
		if fe != nil {
			return fe
		}
		if err := json.Unmarshal(w.b[start:w.i], reflect.New(u).Interface()); err != nil {
			return problemAt(path, selfDecodingMessage(u))
		}
		return nil
	}
	switch w.b[w.i] {
	case '{':
		w.i++
		return w.object(sh, path)
	case '[':
		w.i++
		var elem reflect.Type
		if sh.kind == reflect.Slice {
			elem = sh.elem
		}
		w.space()
		if w.i < len(w.b) && w.b[w.i] == ']' {
			w.i++
			return nil
		}
		for n := 0; ; n++ {
			if err := w.value(elem, &jsonPath{parent: path, index: n}); err != nil {
				return err
			}
			w.space()
			if w.i >= len(w.b) || w.b[w.i] != ',' {
				w.i++ // ]
				return nil
			}
			w.i++
		}
	case '"':
		if raw, esc := w.str(); hasNUL(raw, esc) {
			return problemAt(path, "must not contain the NUL character")
		}
	case 'n':
		w.i += len("null")
		if !sh.nullable {
			return problemAt(path, "must not be null")
		}
	default: // a number, true or false
		for w.i < len(w.b) && !strings.ContainsRune(",]} \t\r\n", rune(w.b[w.i])) {
			w.i++
		}
	}
	return nil
}

func (w *strictWalker) object(sh shape, path *jsonPath) *domain.FieldError {
	var seen []string
	w.space()
	if w.i < len(w.b) && w.b[w.i] == '}' {
		w.i++
		return nil
	}
	for {
		w.space()
		raw, esc := w.str()
		if hasNUL(raw, esc) {
			return problemAt(path, "has a field name with the NUL character")
		}
		key := unescape(raw, esc)
		sub := &jsonPath{parent: path, key: key}
		for _, k := range seen {
			if k == key {
				return problemAt(sub, "appears twice")
			}
		}
		seen = append(seen, key)
		var ft reflect.Type
		switch sh.kind {
		case reflect.Struct:
			var ok bool
			if ft, ok = sh.fields[key]; !ok {
				return problemAt(sub, "is not a known field (names are case-sensitive)")
			}
		case reflect.Map:
			ft = sh.elem
		}
		w.space()
		w.i++ // :
		if err := w.value(ft, sub); err != nil {
			return err
		}
		w.space()
		if w.i >= len(w.b) || w.b[w.i] != ',' {
			w.i++ // }
			return nil
		}
		w.i++
	}
}

// jsonFields maps the JSON names of a struct's fields, as encoding/json sees them (embedded structs' fields
// promoted; the shallower field wins), to their types. shapeOf caches it.
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
