package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/perkflow/perkflow/domain"
)

// The catalog as marketers and support see it: GET /v1/offers, GET, PATCH and DELETE /v1/offers/{offerId}, and a
// member's redemptions (docs/api.md, "Rewards").

// offerView is an offer as the API shows it, with its status now.
type offerView struct {
	domain.Offer
	Status domain.OfferStatus `json:"status"`
}

func (s *Server) offerViewOf(o domain.Offer) offerView {
	return offerView{Offer: o, Status: o.StatusAt(s.now())}
}

type offerViewPage struct {
	Items      []offerView `json:"items"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

func (s *Server) offerViews(offers []domain.Offer, next string) offerViewPage {
	page := offerViewPage{Items: make([]offerView, 0, len(offers)), NextCursor: next}
	for _, o := range offers {
		page.Items = append(page.Items, s.offerViewOf(o))
	}
	return page
}

// listOffers lists every offer, newest first, or those of one ?status=.
func (s *Server) listOffers(w http.ResponseWriter, r *http.Request) {
	limit, cursor, ok := pageParams(w, r)
	if !ok {
		return
	}
	status := domain.OfferStatus(r.URL.Query().Get("status"))
	if status != "" && !slices.Contains(domain.OfferStatuses, status) {
		fail(w, r, problem(domain.ErrInvalid, "status must be active, scheduled, ended or archived",
			domain.FieldError{Field: "status", Message: "must be active, scheduled, ended or archived"}))
		return
	}
	offers, next, err := s.cfg.Store.ListOffers(r.Context(), status, s.now(), cursor, limit)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.offerViews(offers, next))
}

func (s *Server) getOffer(w http.ResponseWriter, r *http.Request) {
	o, err := s.cfg.Store.GetOffer(r.Context(), chi.URLParam(r, "offerId"))
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.offerViewOf(o))
}

// offerPatch is the body of PATCH /v1/offers/{offerId}: the fields to change. The dates and the cash price may be
// cleared with null, so they are read raw to tell null from absent.
type offerPatch struct {
	Title               *string         `json:"title"`
	Description         *string         `json:"description"`
	PointsCost          *int64          `json:"points_cost"`
	CashPrice           json.RawMessage `json:"cash_price"`
	StartsAt            json.RawMessage `json:"starts_at"`
	EndsAt              json.RawMessage `json:"ends_at"`
	EligibleTiers       *[]string       `json:"eligible_tiers"`
	MinTier             json.RawMessage `json:"min_tier"`
	CancelWindowMinutes *int64          `json:"cancel_window_minutes"`
	AddStock            int64           `json:"add_stock"`
}

// optionalOf reads a field that null clears: absent → not set, null → cleared, a value → set.
func optionalOf[T any](raw json.RawMessage, field string, v *domain.Validation) domain.Optional[T] {
	if len(raw) == 0 {
		return domain.Optional[T]{}
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return domain.Optional[T]{Set: true}
	}
	var val T
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&val); err != nil {
		v.Add(field, "has the wrong shape: %s", strings.TrimPrefix(err.Error(), "json: "))
		return domain.Optional[T]{}
	}
	return domain.Optional[T]{Set: true, Value: &val}
}

// updateOffer changes an offer's title, description, dates, stock (add_stock, negative to remove), eligible tiers or
// minimum tier, cancel window, points cost or cash price. A new cost applies to claims made from now on: a claim keeps the cost
// it was made at.
func (s *Server) updateOffer(w http.ResponseWriter, r *http.Request) {
	var req offerPatch
	if !decodeJSON(w, r, &req) {
		return
	}
	var v domain.Validation
	c := domain.OfferChange{Title: req.Title, Description: req.Description, PointsCost: req.PointsCost,
		CashPrice: optionalOf[domain.Money](req.CashPrice, "cash_price", &v), StartsAt: optionalOf[time.Time](req.StartsAt, "starts_at", &v),
		EndsAt: optionalOf[time.Time](req.EndsAt, "ends_at", &v), EligibleTiers: req.EligibleTiers,
		CancelWindowMinutes: req.CancelWindowMinutes, StockDelta: req.AddStock}
	if mt := optionalOf[string](req.MinTier, "min_tier", &v); mt.Set {
		c.MinTier = new(string) // null or "" clears it
		if mt.Value != nil {
			*c.MinTier = *mt.Value
		}
	}
	if c.Title != nil {
		t := strings.TrimSpace(*c.Title)
		c.Title = &t
	}
	if c.EligibleTiers != nil && *c.EligibleTiers == nil {
		c.EligibleTiers = &[]string{}
	}
	empty := c.Title == nil && c.Description == nil && c.PointsCost == nil && !c.CashPrice.Set && !c.StartsAt.Set &&
		!c.EndsAt.Set && c.EligibleTiers == nil && c.MinTier == nil && c.CancelWindowMinutes == nil && c.StockDelta == 0
	if err := v.Err(); err != nil {
		fail(w, r, err)
		return
	}
	if empty {
		fail(w, r, problem(domain.ErrInvalid, "name at least one field to change"))
		return
	}
	// What the change sets must fit the program, as a new offer's would.
	probe := domain.Offer{CashPrice: c.CashPrice.Value}
	if c.EligibleTiers != nil {
		probe.EligibleTiers = *c.EligibleTiers
	}
	if c.MinTier != nil {
		probe.MinTier = *c.MinTier
	}
	if err := s.offerFitsProgram(r.Context(), probe); err != nil {
		fail(w, r, err)
		return
	}
	p, _ := principalFrom(r.Context())
	o, err := s.cfg.Store.UpdateOffer(r.Context(), chi.URLParam(r, "offerId"), c, p.Actor())
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.offerViewOf(o))
}

// archiveOffer archives an offer: it takes no new claim; claims already made go on (their saga, their cancel
// window). Archiving again answers the same.
func (s *Server) archiveOffer(w http.ResponseWriter, r *http.Request) {
	p, _ := principalFrom(r.Context())
	if _, err := s.cfg.Store.ArchiveOffer(r.Context(), chi.URLParam(r, "offerId"), s.now(), p.Actor()); err != nil {
		fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// memberRedemptionView is an item of a member's redemptions.
type memberRedemptionView struct {
	redemptionView
	OfferTitle string `json:"offer_title"`
}

type memberRedemptionPage struct {
	Items      []memberRedemptionView `json:"items"`
	NextCursor string                 `json:"next_cursor,omitempty"`
}

// memberRedemptions lists a member's redemptions, newest first.
func (s *Server) memberRedemptions(w http.ResponseWriter, r *http.Request) {
	id, limit, cursor, ok := s.memberPage(w, r)
	if !ok {
		return
	}
	items, next, err := s.cfg.Store.MemberRedemptions(r.Context(), id, cursor, limit)
	if err != nil {
		fail(w, r, err)
		return
	}
	page := memberRedemptionPage{Items: make([]memberRedemptionView, 0, len(items)), NextCursor: next}
	for _, it := range items {
		page.Items = append(page.Items, memberRedemptionView{redemptionView: s.redemptionView(it.Redemption), OfferTitle: it.OfferTitle})
	}
	writeJSON(w, http.StatusOK, page)
}
