package api

import (
	"net/http"
	"time"

	"github.com/perkflow/perkflow/domain"
)

// GET /v1/gamification/leaderboard: the period's top earners, by display name only.

type leaderboardView struct {
	Period      string                    `json:"period"`
	PeriodStart string                    `json:"period_start"`
	Items       []domain.LeaderboardEntry `json:"items"`
}

// leaderboard shows the top earners of the period by display name only.
func (s *Server) leaderboard(w http.ResponseWriter, r *http.Request) {
	period := r.URL.Query().Get("period")
	if period == "" {
		period = domain.PeriodWeek
	}
	start, ok := domain.PeriodStart(period, s.now())
	if !ok {
		fail(w, r, problem(domain.ErrInvalid, "period must be week, month or all",
			domain.FieldError{Field: "period", Message: "must be week, month or all"}))
		return
	}
	limit, _, ok := pageParams(w, r)
	if !ok {
		return
	}
	if r.URL.Query().Get("limit") == "" {
		limit = 10
	}
	items, err := s.cfg.Store.Leaderboard(r.Context(), period, s.now(), limit)
	if err != nil {
		fail(w, r, err)
		return
	}
	if items == nil {
		items = []domain.LeaderboardEntry{}
	}
	writeJSON(w, http.StatusOK, leaderboardView{Period: period, PeriodStart: start.Format(time.DateOnly), Items: items})
}
