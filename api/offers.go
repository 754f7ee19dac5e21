package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
)

// The rewards catalog: POST /v1/offers and GET /v1/offers/available (docs/api.md, "Offers and redemptions").

// offerRequest is the body of POST /v1/offers.
type offerRequest struct {
	Title               string        `json:"title"`
	Description         string        `json:"description"`
	PointsCost          int64         `json:"points_cost"`
	CashPrice           *domain.Money `json:"cash_price"`
	Stock               *int64        `json:"stock"`
	StartsAt            *time.Time    `json:"starts_at"`
	EndsAt              *time.Time    `json:"ends_at"`
	EligibleTiers       []string      `json:"eligible_tiers"`
	MinTier             string        `json:"min_tier"`
	CancelWindowMinutes *int64        `json:"cancel_window_minutes"`
	CodeValidDays       *int64        `json:"code_valid_days"`
}

// createOffer adds an offer to the catalog. The catalog is reference data that no workflow owns, like an API key;
// the store writes it in one statement.
func (s *Server) createOffer(w http.ResponseWriter, r *http.Request) {
	var req offerRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	o := domain.Offer{ID: uuid.NewString(), Title: strings.TrimSpace(req.Title), Description: req.Description, PointsCost: req.PointsCost,
		CashPrice: req.CashPrice, Stock: req.Stock, StartsAt: req.StartsAt, EndsAt: req.EndsAt, EligibleTiers: req.EligibleTiers,
		MinTier: req.MinTier, CancelWindowMinutes: domain.DefaultCancelWindowMinutes, CodeValidDays: req.CodeValidDays}
	if req.CancelWindowMinutes != nil {
		o.CancelWindowMinutes = *req.CancelWindowMinutes
	}
	if o.EligibleTiers == nil {
		o.EligibleTiers = []string{}
	}
	if err := o.Validate(); err != nil {
		fail(w, r, err)
		return
	}
	if err := s.offerFitsProgram(r.Context(), o); err != nil {
		fail(w, r, err)
		return
	}
	p, _ := principalFrom(r.Context())
	created, err := s.cfg.Store.CreateOffer(r.Context(), o, p.Actor())
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.offerViewOf(created))
}

// offerFitsProgram refuses an offer the program in force cannot honour (domain.Offer.FitsProgram).
func (s *Server) offerFitsProgram(ctx context.Context, o domain.Offer) error {
	pv, err := s.cfg.Store.ProgramAt(ctx, s.now())
	if err != nil {
		return err
	}
	return o.FitsProgram(pv.Program)
}

// memberTierCode is the member's tier code, the program's entry tier when none is stored.
func (s *Server) memberTierCode(ctx context.Context, memberID string) (string, error) {
	t, err := s.cfg.Store.GetMemberTier(ctx, memberID)
	if err != nil || t.Code != "" {
		return t.Code, err
	}
	pv, err := s.cfg.Store.ProgramAt(ctx, s.now())
	if err != nil {
		return "", err
	}
	if len(pv.Program.Tiers) > 0 {
		return pv.Program.Tiers[0].Code, nil
	}
	return "", nil
}

// availableOffers lists what the calling member can claim now: open dates, their tier (exactly, or at or above the
// offer's minimum tier), stock left, enough points,
// and no cash price unless card payments are configured.
func (s *Server) availableOffers(w http.ResponseWriter, r *http.Request) {
	limit, cursor, ok := pageParams(w, r)
	if !ok {
		return
	}
	p, _ := principalFrom(r.Context())
	bal, err := s.cfg.Store.GetBalance(r.Context(), p.MemberID)
	if err != nil {
		fail(w, r, err)
		return
	}
	tier, err := s.memberTierCode(r.Context(), p.MemberID)
	if err != nil {
		fail(w, r, err)
		return
	}
	pv, err := s.cfg.Store.ProgramAt(r.Context(), s.now())
	if err != nil {
		fail(w, r, err)
		return
	}
	// An offer with a cash price cannot be claimed without card payments: not listed then. An offer with a minimum
	// tier is listed to the members of the tiers from it up.
	offers, next, err := s.cfg.Store.AvailableOffers(r.Context(), tier, pv.Program.TiersUpTo(tier), bal.Available, s.now(),
		s.cfg.Rewards.PaymentsEnabled, cursor, limit)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.offerViews(offers, next))
}
