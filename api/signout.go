package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// POST /v1/members/{memberId}/sign-out: sign out everywhere. Every member token issued until now is refused from now
// on (store.RevokeMemberTokens); the member signs in again to get a new one. Like an API key, this is access state,
// not business state: no workflow owns it, and the store writes it in one statement.

func (s *Server) signOutEverywhere(w http.ResponseWriter, r *http.Request) {
	if !noBody(w, r) {
		return
	}
	id := chi.URLParam(r, "memberId")
	if err := s.cfg.Store.RevokeMemberTokens(r.Context(), id, s.now()); err != nil {
		fail(w, r, err)
		return
	}
	p, _ := principalFrom(r.Context())
	s.log.InfoContext(r.Context(), "member tokens revoked", "member_id", id, "actor", p.Actor())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
