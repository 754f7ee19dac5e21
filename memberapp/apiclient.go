package memberapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/perkflow/perkflow/api"
)

// The app calls the public API in process, exactly as a mobile app would over HTTP: the API's router, with the
// signed-in member's bearer token — a member JWT minted for each call and valid for memberTokenTTL — so that
// authentication, the object-level checks (another member's resource → 404), validation, idempotency and rate
// limits are the API's own.

// memberTokenTTL is the life of the member JWT each API call carries.
const memberTokenTTL = 5 * time.Minute

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

// apiAnswer is a 2xx answer: its status and body.
type apiAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

// call sends method path (with body as JSON, when not nil) to the API as the session's member and decodes a 2xx
// answer into out (when not nil). A 4xx or 5xx answer is returned as an *apiError. Writes wait up to 10 s for their
// workflow (Prefer: wait=10).
func (q *request) call(method, path string, body, out any, headers ...string) (apiAnswer, error) {
	return q.a.callAPI(q.r, q.sess.MemberID, method, path, body, out, headers...)
}

func (a *App) callAPI(r *http.Request, memberID, method, path string, body, out any, headers ...string) (apiAnswer, error) {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return apiAnswer{}, err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	// A fresh routing: the app's own chi routing state must not make the API's router behave as one mounted under it.
	ctx := context.WithValue(r.Context(), chi.RouteCtxKey, (*chi.Context)(nil))
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return apiAnswer{}, err
	}
	req.RemoteAddr = r.RemoteAddr
	token, err := api.MintMemberToken(a.cfg.JWT, memberID, memberTokenTTL, a.now())
	if err != nil {
		return apiAnswer{}, fmt.Errorf("mint a member token: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept-Language", r.Header.Get("Accept-Language"))
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
	a.apiRouter.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 400 {
		var p api.Problem
		_ = json.Unmarshal(rec.body.Bytes(), &p)
		e := &apiError{Status: rec.status, Detail: p.Detail, Fields: map[string]string{}}
		for _, f := range p.Errors {
			if e.Fields[f.Field] == "" {
				e.Fields[f.Field] = f.Message
			}
		}
		if e.Detail == "" {
			e.Detail = http.StatusText(rec.status)
		}
		return apiAnswer{}, e
	}
	ans := apiAnswer{Status: rec.status, Header: rec.header, Body: rec.body.Bytes()}
	if out != nil && rec.body.Len() > 0 {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return ans, fmt.Errorf("decode the answer of %s %s: %w", method, strings.SplitN(path, "?", 2)[0], err)
		}
	}
	return ans, nil
}
