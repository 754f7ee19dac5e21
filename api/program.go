package api

import (
	"net/http"
	"time"

	"github.com/perkflow/perkflow/domain"
)

// GET and PUT /v1/program: the program's settings (docs/api.md, "Program").

// programView is the program's settings as the API shows them.
type programView struct {
	Version       int64     `json:"version"`
	EffectiveFrom time.Time `json:"effective_from"`
	domain.Program
}

// programViewOf shows a program version with the kinds of credit that qualify spelled out, the default included.
func programViewOf(pv domain.ProgramVersion) programView {
	p := pv.Program
	p.QualifyingKinds = p.Qualifying()
	return programView{Version: pv.Version, EffectiveFrom: pv.EffectiveFrom, Program: p}
}

// programRequest is the body of PUT /v1/program.
type programRequest struct {
	Currency              string             `json:"currency"`
	TimeZone              string             `json:"time_zone"`
	PendingDays           int                `json:"pending_days"`
	Expiry                domain.Expiry      `json:"expiry"`
	TierWindowDays        int                `json:"tier_window_days"`
	AllowNegativeOnReturn bool               `json:"allow_negative_on_return"`
	Tiers                 []domain.Tier      `json:"tiers"`
	BirthdayBonusPoints   int64              `json:"birthday_bonus_points"`
	WinbackDays           int                `json:"winback_days"`
	ExpiryReminderDays    int                `json:"expiry_reminder_days"`
	PointValue            *domain.PointValue `json:"point_value"`
	RetroClaimDays        *int               `json:"retro_claim_days"`
	QualifyingKinds       []string           `json:"qualifying_kinds"`
}

func (s *Server) getProgram(w http.ResponseWriter, r *http.Request) {
	pv, err := s.cfg.Store.ProgramAt(r.Context(), s.now())
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, programViewOf(pv))
}

// putProgram records a new version of the settings, in force for purchases that occur from now on.
func (s *Server) putProgram(w http.ResponseWriter, r *http.Request) {
	var req programRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	p := domain.Program(req)
	if p.TimeZone == "" {
		p.TimeZone = "UTC"
	}
	if err := p.Validate(); err != nil {
		fail(w, r, err)
		return
	}
	res, ok := s.changeSettings(w, r, domain.SettingsChange{Kind: domain.SettingsProgram, Program: &p})
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, programViewOf(*res.Program))
}
