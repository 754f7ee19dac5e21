package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/perkflow/perkflow/domain"
)

// Request bodies are read once, at most MaxBodyBytes, and shared by the guards and the handler.

// MaxBodyBytes is the largest request body accepted (1 MiB); larger → 413.
const MaxBodyBytes = 1 << 20

// bufferBody reads the request's body (at most MaxBodyBytes) so that guards can look at it, and puts it back for
// the handler. Over the limit it answers 413 itself and returns false.
func bufferBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		fail(w, r, problem(errBodyTooLarge, fmt.Sprintf("the body must be at most %d bytes", MaxBodyBytes)))
		return nil, false
	}
	if err != nil {
		fail(w, r, problem(domain.ErrInvalid, "the body could not be read"))
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, true
}

type bodyKey struct{}

// bodyOf returns the body buffered by an earlier guard, or reads and buffers it now.
func bodyOf(w http.ResponseWriter, r *http.Request) (*http.Request, []byte, bool) {
	if b, ok := r.Context().Value(bodyKey{}).([]byte); ok {
		r.Body = io.NopCloser(bytes.NewReader(b))
		return r, b, true
	}
	b, ok := bufferBody(w, r)
	if !ok {
		return r, nil, false
	}
	if b == nil {
		b = []byte{}
	}
	return r.WithContext(context.WithValue(r.Context(), bodyKey{}, b)), b, true
}

// noBody answers 400 when a route that takes no body is sent one: nothing a route does not take is silently
// ignored (docs/api.md, "Bodies"). It returns whether the request may go on.
func noBody(w http.ResponseWriter, r *http.Request) bool {
	_, body, ok := bodyOf(w, r)
	if !ok {
		return false
	}
	if len(body) > 0 {
		fail(w, r, problem(domain.ErrInvalid, "this route takes no body; send none"))
		return false
	}
	return true
}
