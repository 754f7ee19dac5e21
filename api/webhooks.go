package api

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/workflows"
)

// Outbound webhooks (docs/webhooks.md): admins register the endpoints of their systems, read each one's delivery
// log and replay events. An endpoint's secret is shown once, when it is made or rotated.

// webhookEndpointView is an endpoint as the API shows it, never with its secret.
type webhookEndpointView struct {
	domain.WebhookEndpoint
	// SecondarySecretUntil is when the secret before the last rotation stops signing.
	PreviousSecretUntil *time.Time `json:"previous_secret_until,omitempty"`
}

func webhookEndpointViewOf(e store.WebhookEndpointRecord, now time.Time) webhookEndpointView {
	v := webhookEndpointView{WebhookEndpoint: e.WebhookEndpoint}
	if e.PreviousSecretUntil != nil && now.Before(*e.PreviousSecretUntil) {
		v.PreviousSecretUntil = e.PreviousSecretUntil
	}
	return v
}

// webhookSecretView is an endpoint with its new secret, answered once.
type webhookSecretView struct {
	webhookEndpointView
	Secret string `json:"secret,omitempty"`
}

type webhookEndpointRequest struct {
	URL                 string   `json:"url"`
	Events              []string `json:"events"`
	Description         string   `json:"description"`
	IncludePersonalData bool     `json:"include_personal_data"`
}

type webhookEndpointPatch struct {
	URL         *string  `json:"url"`
	Events      []string `json:"events"`
	Description *string  `json:"description"`
	Enabled     *bool    `json:"enabled"`
}

type webhookReplayRequest struct {
	EventID string     `json:"event_id"`
	Since   *time.Time `json:"since"`
	Until   *time.Time `json:"until"`
}

type webhookEndpointPage struct {
	Items      []webhookEndpointView `json:"items"`
	NextCursor string                `json:"next_cursor,omitempty"`
}

type webhookDeliveryPage struct {
	Items      []store.WebhookDelivery `json:"items"`
	NextCursor string                  `json:"next_cursor,omitempty"`
}

func (s *Server) listWebhookEndpoints(w http.ResponseWriter, r *http.Request) {
	limit, cursor, ok := pageParams(w, r)
	if !ok {
		return
	}
	if cursor != "" && !domain.ValidMemberID(cursor) {
		badCursor(w, r)
		return
	}
	eps, err := s.cfg.Store.ListWebhookEndpoints(r.Context(), cursor, limit+1)
	if err != nil {
		fail(w, r, err)
		return
	}
	eps, next := pageOf(eps, limit, func(e store.WebhookEndpointRecord) string { return e.ID })
	page := webhookEndpointPage{Items: make([]webhookEndpointView, 0, len(eps)), NextCursor: next}
	for _, e := range eps {
		page.Items = append(page.Items, webhookEndpointViewOf(e, s.now()))
	}
	writeJSON(w, http.StatusOK, page)
}

// createWebhookEndpoint registers an endpoint and answers its secret, once; its delivery workflow starts at once.
func (s *Server) createWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	var req webhookEndpointRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	var errs []domain.FieldError
	if fe := s.checkWebhookURL(r.Context(), req.URL); fe != nil {
		errs = append(errs, *fe)
	}
	errs = append(errs, domain.ValidateWebhookEvents(req.Events)...)
	if len(req.Description) > 500 {
		errs = append(errs, domain.FieldError{Field: "description", Message: "at most 500 characters"})
	}
	if len(errs) > 0 {
		fail(w, r, problem(domain.ErrInvalid, "the webhook endpoint is not valid", errs...))
		return
	}
	p, _ := principalFrom(r.Context())
	e, err := s.cfg.Store.CreateWebhookEndpoint(r.Context(), domain.WebhookEndpoint{
		ID: uuid.NewString(), URL: req.URL, Events: req.Events, Description: req.Description,
		IncludePersonalData: req.IncludePersonalData, CreatedBy: p.Actor(),
	})
	if err != nil {
		fail(w, r, err)
		return
	}
	if err := s.wakeWebhookEndpoint(r.Context(), e.ID); err != nil {
		fail(w, r, err)
		return
	}
	view := webhookSecretView{webhookEndpointView: webhookEndpointViewOf(e, s.now())}
	keepForReplay(r, view)
	view.Secret = e.Secret
	writeJSON(w, http.StatusCreated, view)
}

func (s *Server) getWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	e, err := s.cfg.Store.GetWebhookEndpoint(r.Context(), chi.URLParam(r, "endpointId"))
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, webhookEndpointViewOf(e, s.now()))
}

// updateWebhookEndpoint changes an endpoint's url, events, description or enabled; enabling starts its deliveries
// again.
func (s *Server) updateWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	var req webhookEndpointPatch
	if !decodeJSON(w, r, &req) {
		return
	}
	var errs []domain.FieldError
	if req.URL != nil {
		if fe := s.checkWebhookURL(r.Context(), *req.URL); fe != nil {
			errs = append(errs, *fe)
		}
	}
	if req.Events != nil {
		errs = append(errs, domain.ValidateWebhookEvents(req.Events)...)
	}
	if req.Description != nil && len(*req.Description) > 500 {
		errs = append(errs, domain.FieldError{Field: "description", Message: "at most 500 characters"})
	}
	if len(errs) > 0 {
		fail(w, r, problem(domain.ErrInvalid, "the change is not valid", errs...))
		return
	}
	e, err := s.cfg.Store.UpdateWebhookEndpoint(r.Context(), chi.URLParam(r, "endpointId"), store.WebhookEndpointChange{
		URL: req.URL, Events: req.Events, Description: req.Description, Enabled: req.Enabled})
	if err != nil {
		fail(w, r, err)
		return
	}
	if e.Enabled {
		if err := s.wakeWebhookEndpoint(r.Context(), e.ID); err != nil {
			fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, webhookEndpointViewOf(e, s.now()))
}

// deleteWebhookEndpoint deletes an endpoint and its log; its workflow ends at its next round.
func (s *Server) deleteWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "endpointId")
	if err := s.cfg.Store.DeleteWebhookEndpoint(r.Context(), id); err != nil {
		fail(w, r, err)
		return
	}
	// Best effort: a workflow that is not woken ends at its idle timer.
	_ = s.cfg.Temporal.SignalWorkflow(r.Context(), workflows.WebhookEndpointWorkflowID(id), "", workflows.WebhookSignalWake, nil)
	w.WriteHeader(http.StatusNoContent)
}

// rotateWebhookSecret gives the endpoint a new secret, answered once; the previous one signs too for 24 h.
func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	e, err := s.cfg.Store.RotateWebhookSecret(r.Context(), chi.URLParam(r, "endpointId"))
	if err != nil {
		fail(w, r, err)
		return
	}
	view := webhookSecretView{webhookEndpointView: webhookEndpointViewOf(e, s.now())}
	keepForReplay(r, view)
	view.Secret = e.Secret
	writeJSON(w, http.StatusOK, view)
}

func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	limit, cursor, ok := pageParams(w, r)
	if !ok {
		return
	}
	before, ok := idCursor(w, r, cursor)
	if !ok {
		return
	}
	items, next, err := s.cfg.Store.WebhookDeliveries(r.Context(), chi.URLParam(r, "endpointId"), before, limit)
	if err != nil {
		fail(w, r, err)
		return
	}
	page := webhookDeliveryPage{Items: items}
	if page.Items == nil {
		page.Items = []store.WebhookDelivery{}
	}
	if next > 0 {
		page.NextCursor = strconv.FormatInt(next, 10)
	}
	writeJSON(w, http.StatusOK, page)
}

// replayWebhookEvents queues one event, or the events of a time range, again for the endpoint.
func (s *Server) replayWebhookEvents(w http.ResponseWriter, r *http.Request) {
	var req webhookReplayRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	var rp store.WebhookReplay
	switch {
	case req.EventID != "" && (req.Since != nil || req.Until != nil):
		fail(w, r, problem(domain.ErrInvalid, "name an event or a time range, not both", domain.FieldError{Field: "event_id", Message: "not with since or until"}))
		return
	case req.EventID != "":
		rp.EventID = req.EventID
	case req.Since == nil:
		fail(w, r, problem(domain.ErrInvalid, "name an event or a time range", domain.FieldError{Field: "since", Message: "required without event_id"}))
		return
	default:
		rp.Since = *req.Since
		if req.Until != nil {
			if !req.Until.After(*req.Since) {
				fail(w, r, problem(domain.ErrInvalid, "until must come after since", domain.FieldError{Field: "until", Message: "must be after since"}))
				return
			}
			rp.Until = *req.Until
		}
	}
	id := chi.URLParam(r, "endpointId")
	n, err := s.cfg.Store.ReplayWebhookEvents(r.Context(), id, rp)
	if err != nil {
		fail(w, r, err)
		return
	}
	if n > 0 {
		if err := s.wakeWebhookEndpoint(r.Context(), id); err != nil {
			fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]int64{"queued": n})
}

// wakeWebhookEndpoint signals the endpoint's delivery workflow, starting it if it is not running.
func (s *Server) wakeWebhookEndpoint(ctx context.Context, id string) error {
	return workflows.WakeWebhookEndpoint(ctx, s.cfg.Temporal, s.cfg.TaskQueue, id)
}

// checkWebhookURL refuses an endpoint URL that is not https to a public address (unless private ones are allowed):
// its host, or every address its name resolves to now, must be public. Deliveries check again as they connect.
func (s *Server) checkWebhookURL(ctx context.Context, raw string) *domain.FieldError {
	u, err := domain.ParseWebhookURL(raw, s.cfg.WebhookAllowPrivate)
	if err != nil {
		return &domain.FieldError{Field: "url", Message: err.Error()}
	}
	if s.cfg.WebhookAllowPrivate {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !domain.PublicAddress(ip) {
			return &domain.FieldError{Field: "url", Message: "must be a public address, not a private, loopback or link-local one"}
		}
		return nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return &domain.FieldError{Field: "url", Message: "must be a public address, not a private, loopback or link-local one"}
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return &domain.FieldError{Field: "url", Message: "its host does not resolve"}
	}
	for _, ip := range ips {
		if !domain.PublicAddress(ip) {
			return &domain.FieldError{Field: "url", Message: "its host resolves to a private, loopback or link-local address"}
		}
	}
	return nil
}
