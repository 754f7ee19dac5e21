package api

import "github.com/go-chi/chi/v5"

// rewardRoutes mounts the routes of the rewards catalog and redemption saga (offers, claims, redemptions, Stripe webhook) under /v1.
func (s *Server) rewardRoutes(r chi.Router) {}
