package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// Idempotency-Key (docs/api.md, "Idempotency"). A client may send Idempotency-Key on any POST; the key belongs to the
// caller (Principal.Subject: its API key's id, never its name, or its member id), so two callers never collide and a
// key created under a revoked key's name replays nothing of the old key's. The first request with a key takes it
// (a 'running' row in Postgres) and, when it succeeds, its answer is stored; a retry with the same key and the
// same request then gets that answer again, marked Idempotent-Replayed: true, without doing the work twice. A retry
// while the first is still being served gets 409; the key used with another request (method, path or body) gets
// 422. Only successful (2xx) answers are kept: an error means nothing was done, so the key is freed and the client
// may retry with it. Keys are kept store.IdempotencyTTL (24 h), then pruned.

const (
	// IdempotencyKeyHeader is the request header carrying the key.
	IdempotencyKeyHeader = "Idempotency-Key"
	// IdempotentReplayedHeader marks an answer replayed from an earlier request.
	IdempotentReplayedHeader = "Idempotent-Replayed"
	// maxIdempotencyKey is the longest key accepted.
	maxIdempotencyKey = 255
	// idempotencyStaleAfter is when a 'running' key is taken to belong to a request that died: longer than any
	// request may run (the write timeout).
	idempotencyStaleAfter = maxWait + 60*time.Second
)

// replayedHeaders are the headers of an answer worth storing and replaying.
var replayedHeaders = []string{"Content-Type", "Location"}

// validIdempotencyKey: 1 to 255 printable ASCII characters.
func validIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// requestFingerprint identifies a request for its Idempotency-Key: method, path with query, and body. A JSON body
// counts by its content, not its spelling: the same object with its keys in another order or other spacing is the
// same request.
func requestFingerprint(r *http.Request, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.RequestURI() + "\n"))
	h.Write(canonicalJSON(body))
	return h.Sum(nil)
}

// canonicalJSON re-encodes a JSON body with sorted keys and no spacing (numbers kept as written); anything that is
// not valid JSON is returned as is.
func canonicalJSON(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return body
	}
	b, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return b
}

// idempotency is the Idempotency-Key guard; it engages on POST requests that carry the header (it runs behind the
// route's access rule, so only for requests the rule lets through).
func (g *guards) idempotency(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values := r.Header.Values(IdempotencyKeyHeader)
		if len(values) == 0 || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		if len(values) > 1 || !validIdempotencyKey(values[0]) {
			fail(w, r, problem(domain.ErrInvalid, "Idempotency-Key must be one value of 1 to 255 printable ASCII characters",
				domain.FieldError{Field: IdempotencyKeyHeader, Message: "must be 1 to 255 printable ASCII characters"}))
			return
		}
		key := values[0]
		r, body, ok := bodyOf(w, r)
		if !ok {
			return
		}
		p, _ := principalFrom(r.Context())
		actor := p.Subject()
		st := g.store
		claim, err := st.ClaimIdempotencyKey(r.Context(), actor, key, requestFingerprint(r, body), idempotencyStaleAfter)
		if err != nil {
			fail(w, r, err)
			return
		}
		switch claim.State {
		case store.IdempotencyMismatch:
			fail(w, r, problem(domain.ErrUnprocessable, "this Idempotency-Key was used with another request; use a new key for a new request",
				domain.FieldError{Field: IdempotencyKeyHeader, Message: "already used with another request"}))
			return
		case store.IdempotencyRunning:
			fail(w, r, &retryLater{err: problem(domain.ErrConflict, "a request with this Idempotency-Key is still being served; retry shortly to get its answer"), after: time.Second})
			return
		case store.IdempotencyDone:
			resp := claim.Response
			for _, h := range replayedHeaders {
				if v, ok := resp.Header[h]; ok {
					w.Header().Set(h, v)
				}
			}
			w.Header().Set(IdempotentReplayedHeader, "true")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(resp.Status)
			_, _ = w.Write(resp.Body)
			return
		}

		// This request holds the key: serve it, keeping a copy of the answer (or what the handler asks to keep).
		kept := &replayBody{}
		r = r.WithContext(context.WithValue(r.Context(), replayKey{}, kept))
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		var copied bytes.Buffer
		ww.Tee(&copied)
		// Store or free the key even when the client has gone away, and even if the handler panics.
		finish := func(status int) {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
			defer cancel()
			if status >= 200 && status < 300 && copied.Len() <= MaxBodyBytes {
				resp := store.StoredResponse{Status: status, Header: map[string]string{}, Body: copied.Bytes()}
				if kept.body != nil {
					resp.Body = kept.body
				}
				for _, h := range replayedHeaders {
					if v := ww.Header().Get(h); v != "" {
						resp.Header[h] = v
					}
				}
				if err := st.CompleteIdempotencyKey(ctx, actor, key, claim.Lease, resp); err != nil {
					g.log.ErrorContext(r.Context(), "storing the answer of an Idempotency-Key failed; a retry will redo the request",
						slog.Any("error", err))
				}
				return
			}
			if err := st.ReleaseIdempotencyKey(ctx, actor, key, claim.Lease); err != nil {
				g.log.WarnContext(r.Context(), "freeing an Idempotency-Key failed; it frees itself later", slog.Any("error", err))
			}
		}
		defer func() {
			if v := recover(); v != nil {
				finish(http.StatusInternalServerError)
				panic(v)
			}
		}()
		next.ServeHTTP(ww, r)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		finish(status)
	})
}

type replayKey struct{}

// replayBody is what a retry with the request's Idempotency-Key is answered with, when the handler chose it.
type replayBody struct{ body []byte }

// keepForReplay makes a retry of this request with the same Idempotency-Key answer v (with this request's status
// and headers) instead of what this request answered: for an answer that carries a secret shown once, such as a new
// API key, which must not be kept in the database.
func keepForReplay(r *http.Request, v any) {
	if kept, ok := r.Context().Value(replayKey{}).(*replayBody); ok {
		b, err := json.Marshal(v)
		if err == nil {
			kept.body = append(b, '\n')
		}
	}
}
