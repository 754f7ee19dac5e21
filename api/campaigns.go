package api

import "github.com/go-chi/chi/v5"

// campaignRoutes mounts the routes of campaigns under /v1.
func (s *Server) campaignRoutes(r chi.Router) {}
