package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/domain"
)

// The front ends call the API in process — the API's own router or handlers, with the caller's credentials — so
// that what they show and do is what the API answers. Here are the request, the recording of the answer and its
// reading; who the call is made as is each front end's.

// Recorder is the answer of an in-process call: the first status written (0 when none was), the headers and the
// body.
type Recorder struct {
	HeaderMap http.Header
	Code      int
	Body      bytes.Buffer
}

// NewRecorder is an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{HeaderMap: http.Header{}} }

func (rec *Recorder) Header() http.Header { return rec.HeaderMap }
func (rec *Recorder) Write(b []byte) (int, error) {
	if rec.Code == 0 {
		rec.Code = http.StatusOK
	}
	return rec.Body.Write(b)
}
func (rec *Recorder) WriteHeader(status int) {
	if rec.Code == 0 {
		rec.Code = status
	}
}

// APIError is a problem the API answered, with its fields' messages by field name.
type APIError struct {
	Status int
	Detail string
	Fields map[string]string
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Detail) }

// Answer is a 2xx answer: its status, headers and body.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// NewAPIRequest is method path with body as JSON (when not nil), in ctx. Writes ask to wait up to 10 s for their
// workflow (Prefer: wait=10); headers are further name, value pairs, a pair with an empty value left out.
func NewAPIRequest(ctx context.Context, method, path string, body any, headers ...string) (*http.Request, error) {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet {
		req.Header.Set("Prefer", "wait=10")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	return req, nil
}

// FileField files a field error of the API's answer in an APIError's Fields.
type FileField func(fields map[string]string, f domain.FieldError)

// FirstMessage files a field's first message under its name.
func FirstMessage(fields map[string]string, f domain.FieldError) {
	if fields[f.Field] == "" {
		fields[f.Field] = f.Message
	}
}

// CallAPI serves req with serve and reads the answer: a 4xx or 5xx is returned as an *APIError, its field errors
// filed by file; a 2xx is decoded into out (when not nil and the body is not empty).
func CallAPI(serve func(http.ResponseWriter, *http.Request), req *http.Request, out any, file FileField) (Answer, error) {
	rec := NewRecorder()
	serve(rec, req)
	if rec.Code == 0 {
		rec.Code = http.StatusOK
	}
	if rec.Code >= 400 {
		var p api.Problem
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		e := &APIError{Status: rec.Code, Detail: p.Detail, Fields: map[string]string{}}
		for _, f := range p.Errors {
			file(e.Fields, f)
		}
		if e.Detail == "" {
			e.Detail = http.StatusText(rec.Code)
		}
		return Answer{}, e
	}
	ans := Answer{Status: rec.Code, Header: rec.HeaderMap, Body: rec.Body.Bytes()}
	if out != nil && rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			return ans, fmt.Errorf("decode the answer of %s %s: %w", req.Method, req.URL.EscapedPath(), err)
		}
	}
	return ans, nil
}
