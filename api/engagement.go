package api

import "github.com/go-chi/chi/v5"

// engagementRoutes mounts the routes of gamification (challenges, leaderboard) under /v1.
func (s *Server) engagementRoutes(r chi.Router) {}
