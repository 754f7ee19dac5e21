package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/domain"
)

// The console calls the API in process, as the signed-in key: the same handlers, access rules, validation and
// audit as a request over HTTP, so that what the console shows and does is what the API answers.

// recorder is the answer of an in-process call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header { return rec.header }
func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.body.Write(b)
}
func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}

// apiError is a problem the API answered, with its fields' messages by field name.
type apiError struct {
	Status int
	Detail string
	Fields map[string]string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Detail) }

// call sends method path (with body as JSON, when not nil) to the API as the session's key and decodes a 2xx
// answer into out (when not nil). A 4xx or 5xx answer is returned as an *apiError. Writes wait up to 10 s for their
// workflow (Prefer: wait=10): a 202 is then reported with accepted true.
func (q *request) call(method, path string, body, out any, headers ...string) (accepted bool, err error) {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return false, err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(q.r.Context(), method, path, rd)
	if err != nil {
		return false, err
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
	rec := &recorder{header: http.Header{}}
	q.c.cfg.API.ServeAs(api.KeyPrincipal(q.sess.Key), rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 400 {
		var p api.Problem
		_ = json.Unmarshal(rec.body.Bytes(), &p)
		e := &apiError{Status: rec.status, Detail: p.Detail, Fields: map[string]string{}}
		for _, f := range p.Errors {
			addFieldError(e.Fields, f)
		}
		if e.Detail == "" {
			e.Detail = http.StatusText(rec.status)
		}
		return false, e
	}
	if out != nil && rec.body.Len() > 0 {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return false, fmt.Errorf("decode the answer of %s %s: %w", method, strings.SplitN(path, "?", 2)[0], err)
		}
	}
	return rec.status == http.StatusAccepted, nil
}

// addFieldError files a field's message under its name, and under the name of the form field that holds it when
// the API names a part of one (tiers[1].code under tiers).
func addFieldError(m map[string]string, f domain.FieldError) {
	add := func(k string) {
		if m[k] == "" {
			m[k] = f.Message
		} else if !strings.Contains(m[k], f.Message) {
			m[k] += "; " + f.Message
		}
	}
	add(f.Field)
	for i := len(f.Field) - 1; i > 0; i-- {
		if f.Field[i] == '.' || f.Field[i] == '[' {
			add(f.Field[:i])
		}
	}
}
