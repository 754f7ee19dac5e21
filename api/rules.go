package api

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
)

// Earning rules: GET, POST /v1/rules and GET, PUT, DELETE /v1/rules/{ruleId} (docs/api.md, "Earning rules").

// ruleRequest is the body of POST /v1/rules and PUT /v1/rules/{ruleId}.
type ruleRequest struct {
	Name       string            `json:"name"`
	Priority   int               `json:"priority"`
	Mode       string            `json:"mode"`
	StartsAt   *time.Time        `json:"starts_at"`
	EndsAt     *time.Time        `json:"ends_at"`
	Conditions domain.Conditions `json:"conditions"`
	Action     domain.Action     `json:"action"`
}

func (q ruleRequest) rule(id string) domain.Rule {
	return domain.Rule{ID: id, Name: q.Name, Priority: q.Priority, Mode: q.Mode, StartsAt: q.StartsAt, EndsAt: q.EndsAt,
		Conditions: q.Conditions, Action: q.Action}
}

type rulePage struct {
	Items      []domain.Rule `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request) {
	limit, cursor, ok := pageParams(w, r)
	if !ok {
		return
	}
	rules, err := s.cfg.Store.CurrentRules(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	page := rulePage{Items: []domain.Rule{}}
	for _, rule := range rules {
		if rule.ID <= cursor {
			continue
		}
		if len(page.Items) == limit {
			page.NextCursor = page.Items[len(page.Items)-1].ID
			break
		}
		page.Items = append(page.Items, rule)
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) getRule(w http.ResponseWriter, r *http.Request) {
	rule, err := s.cfg.Store.GetRule(r.Context(), chi.URLParam(r, "ruleId"))
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rule)
}

func (s *Server) createRule(w http.ResponseWriter, r *http.Request) {
	var req ruleRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	rule := req.rule(uuid.NewString())
	if err := rule.Validate(""); err != nil {
		fail(w, r, err)
		return
	}
	if rules, err := s.cfg.Store.CurrentRules(r.Context()); err != nil {
		fail(w, r, err)
		return
	} else if len(rules) >= domain.MaxRules {
		fail(w, r, problem(domain.ErrUnprocessable, "the program already has the maximum number of rules; delete one first"))
		return
	}
	res, ok := s.changeSettings(w, r, domain.SettingsChange{Kind: domain.SettingsRuleCreate, Rule: &rule})
	if !ok {
		return
	}
	w.Header().Set("Location", "/v1/rules/"+res.Rule.ID)
	writeJSON(w, http.StatusCreated, res.Rule)
}

// campaignRulePrefix marks the rules a campaign workflow saves and deletes as it starts, pauses and ends; only the
// campaign may change them.
const campaignRulePrefix = "campaign:"

func refuseCampaignRule(w http.ResponseWriter, r *http.Request, id string) bool {
	if strings.HasPrefix(id, campaignRulePrefix) {
		fail(w, r, problem(domain.ErrConflict, "rule "+id+" belongs to a campaign: change it through /v1/campaigns"))
		return true
	}
	return false
}

func (s *Server) updateRule(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "ruleId")
	if refuseCampaignRule(w, r, id) {
		return
	}
	var req ruleRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if _, err := s.cfg.Store.GetRule(r.Context(), id); err != nil {
		fail(w, r, err)
		return
	}
	rule := req.rule(id)
	if err := rule.Validate(""); err != nil {
		fail(w, r, err)
		return
	}
	res, ok := s.changeSettings(w, r, domain.SettingsChange{Kind: domain.SettingsRuleUpdate, Rule: &rule})
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, res.Rule)
}

func (s *Server) deleteRule(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "ruleId")
	if refuseCampaignRule(w, r, id) {
		return
	}
	if _, err := s.cfg.Store.GetRule(r.Context(), id); err != nil {
		fail(w, r, err)
		return
	}
	if _, ok := s.changeSettings(w, r, domain.SettingsChange{Kind: domain.SettingsRuleDelete, RuleID: id}); !ok {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
