package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/perkflow/perkflow/store"
)

// API keys: GET, POST /v1/api-keys and DELETE /v1/api-keys/{name} (docs/api.md, "API keys"). A key is shown once,
// when it is made; afterwards only its prefix.

// apiKeyView is a key as the API lists it, never with its secret.
type apiKeyView struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Prefix     string     `json:"prefix,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	RevokedBy  string     `json:"revoked_by,omitempty"`
}

func apiKeyViewOf(k store.APIKey) apiKeyView {
	return apiKeyView{ID: k.ID, Name: k.Name, Role: k.Role, Prefix: k.Prefix, CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy,
		LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, RevokedBy: k.RevokedBy}
}

type apiKeyPage struct {
	Items      []apiKeyView `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// newAPIKeyView is the answer to creating a key: the record and, this once, the key.
type newAPIKeyView struct {
	apiKeyView
	Key string `json:"key,omitempty"`
}

type apiKeyRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// listAPIKeys lists every key, active and revoked, newest first, with when each was last used.
func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	limit, cursor, ok := pageParams(w, r)
	if !ok {
		return
	}
	before, ok := idCursor(w, r, cursor)
	if !ok {
		return
	}
	keys, next, err := s.cfg.Store.ListAPIKeys(r.Context(), before, limit)
	if err != nil {
		fail(w, r, err)
		return
	}
	page := apiKeyPage{Items: make([]apiKeyView, 0, len(keys))}
	for _, k := range keys {
		page.Items = append(page.Items, apiKeyViewOf(k))
	}
	if next > 0 {
		page.NextCursor = strconv.FormatInt(next, 10)
	}
	writeJSON(w, http.StatusOK, page)
}

// createAPIKey makes a key with a role and answers it once. A retry with the same Idempotency-Key answers the same
// record without the key, which is never kept.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var req apiKeyRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	p, _ := principalFrom(r.Context())
	k, key, err := s.cfg.Store.IssueAPIKey(r.Context(), req.Name, req.Role, p.Actor())
	if err != nil {
		fail(w, r, err)
		return
	}
	view := newAPIKeyView{apiKeyView: apiKeyViewOf(k)}
	keepForReplay(r, view)
	view.Key = key
	writeJSON(w, http.StatusCreated, view)
}

// revokeAPIKey revokes the active key of this name: from now on it authenticates nothing, and the console sessions
// it opened end.
func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	p, _ := principalFrom(r.Context())
	if _, err := s.cfg.Store.RevokeAPIKeyBy(r.Context(), chi.URLParam(r, "name"), p.Actor()); err != nil {
		fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
