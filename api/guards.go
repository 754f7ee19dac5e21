package api

import "net/http"

// guards holds the protections every authenticated /v1 request passes after authentication, in order: they are the
// one place to add request-wide limits and replay protection.
type guards struct {
	s *Server
}

func newGuards(s *Server) *guards { return &guards{s: s} }

// middleware lists the guards applied to every /v1 route, after authentication.
func (g *guards) middleware() []func(http.Handler) http.Handler { return nil }
