package api

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/workflows"
)

// programView is the program's settings as the API shows them.
type programView struct {
	Version       int64     `json:"version"`
	EffectiveFrom time.Time `json:"effective_from"`
	domain.Program
}

// programRequest is the body of PUT /v1/program.
type programRequest struct {
	Currency              string        `json:"currency"`
	TimeZone              string        `json:"time_zone"`
	PendingDays           int           `json:"pending_days"`
	Expiry                domain.Expiry `json:"expiry"`
	TierWindowDays        int           `json:"tier_window_days"`
	AllowNegativeOnReturn bool          `json:"allow_negative_on_return"`
	Tiers                 []domain.Tier `json:"tiers"`
	BirthdayBonusPoints   int64         `json:"birthday_bonus_points"`
	WinbackDays           int           `json:"winback_days"`
	ExpiryReminderDays    int           `json:"expiry_reminder_days"`
}

func (s *Server) getProgram(w http.ResponseWriter, r *http.Request) {
	pv, err := s.cfg.Store.ProgramAt(r.Context(), s.now())
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, programView{Version: pv.Version, EffectiveFrom: pv.EffectiveFrom, Program: pv.Program})
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
	writeJSON(w, http.StatusOK, programView{Version: res.Program.Version, EffectiveFrom: res.Program.EffectiveFrom, Program: res.Program.Program})
}

// changeSettings runs a settings change as a workflow and waits for it (a change is quick; without a worker it
// answers 202). It answers the request itself unless it returns ok.
func (s *Server) changeSettings(w http.ResponseWriter, r *http.Request, c domain.SettingsChange) (domain.SettingsResult, bool) {
	p, _ := principalFrom(r.Context())
	c.Actor = p.Actor()
	id := workflows.SettingsWorkflowID(c.Kind, uuid.NewString())
	run, err := s.cfg.Temporal.ExecuteWorkflow(r.Context(), client.StartWorkflowOptions{
		ID: id, TaskQueue: s.cfg.TaskQueue, StaticSummary: c.Kind + " by " + c.Actor,
	}, workflows.SettingsWorkflowName, c)
	if err != nil {
		fail(w, r, temporalRefused(err))
		return domain.SettingsResult{}, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.waitBudget(r))
	defer cancel()
	var res domain.SettingsResult
	err = run.Get(ctx, &res)
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		return res, true
	case errors.As(err, &appErr): // the change was refused
		fail(w, r, err)
	default:
		writeJSON(w, http.StatusAccepted, map[string]string{"change_id": id, "status": "accepted"})
	}
	return res, false
}

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

// simulateRequest is the body of POST /v1/rules/simulate.
type simulateRequest struct {
	Rules []ruleRequest `json:"rules"`
	From  time.Time     `json:"from"`
	To    time.Time     `json:"to"`
}

type ruleImpact struct {
	RuleID string `json:"rule_id"`
	Name   string `json:"name"`
	Points int64  `json:"points"`
}

type simulation struct {
	From             time.Time    `json:"from"`
	To               time.Time    `json:"to"`
	Transactions     int          `json:"transactions"`
	Truncated        bool         `json:"truncated"`
	ActualPoints     int64        `json:"actual_points"`
	SimulatedPoints  int64        `json:"simulated_points"`
	Difference       int64        `json:"difference"`
	MembersEarning   int          `json:"members_earning"`
	MembersAffected  int          `json:"members_affected"`
	TransactionsDiff int          `json:"transactions_changed"`
	PerRule          []ruleImpact `json:"per_rule"`
}

// maxSimulated bounds the purchases one simulation replays.
const maxSimulated = 100_000

// simulateRules replays a draft rule set over the accrued purchases of a period, each priced with the program
// version and tier it was priced with, and sets what it would have issued next to what was issued. Read-only.
func (s *Server) simulateRules(w http.ResponseWriter, r *http.Request) {
	var req simulateRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	rules := make([]domain.Rule, len(req.Rules))
	for i, q := range req.Rules {
		rules[i] = q.rule("draft-" + strconv.Itoa(i+1))
	}
	var v domain.Validation
	v.Check(!req.From.IsZero(), "from", "is required (RFC 3339)")
	v.Check(!req.To.IsZero(), "to", "is required (RFC 3339)")
	v.Check(req.To.After(req.From), "to", "must be after from")
	v.Check(req.To.Sub(req.From) <= 366*24*time.Hour, "to", "a simulation covers at most 366 days")
	if err := v.Err(); err != nil {
		fail(w, r, err)
		return
	}
	if err := domain.ValidateRuleSet(rules, "rules"); err != nil {
		fail(w, r, err)
		return
	}
	out := simulation{From: req.From, To: req.To, PerRule: []ruleImpact{}}
	perRule := map[string]int64{}
	earning, affected := map[string]bool{}, map[string]bool{}
	programs := map[int64]domain.Program{}
	var err error
	out.Truncated, err = s.cfg.Store.EachAccruedTransaction(r.Context(), req.From, req.To, maxSimulated, func(t store.Transaction) error {
		prog, ok := programs[t.ProgramVersion]
		if !ok {
			pv, err := s.cfg.Store.ProgramVersionByID(r.Context(), t.ProgramVersion)
			if err != nil {
				return err
			}
			prog, programs[t.ProgramVersion] = pv.Program, pv.Program
		}
		tier, _ := prog.TierByCode(t.TierCode)
		tier.MultiplierPercent = t.TierMultiplier
		e, err := domain.Earn(domain.EarnInput{Program: prog, Rules: rules, Tier: tier, Purchase: t.Purchase()})
		if err != nil {
			return nil // a purchase the draft cannot price (currency) earns nothing under it
		}
		out.Transactions++
		out.ActualPoints += t.PointsEarned
		out.SimulatedPoints += e.Points
		for _, c := range e.Contributions {
			if c.Source == domain.SourceRule {
				perRule[c.RuleID] += c.Points
			}
		}
		if e.Points > 0 {
			earning[t.MemberID] = true
		}
		if e.Points != t.PointsEarned {
			affected[t.MemberID] = true
			out.TransactionsDiff++
		}
		return nil
	})
	if err != nil {
		fail(w, r, err)
		return
	}
	out.Difference = out.SimulatedPoints - out.ActualPoints
	out.MembersEarning, out.MembersAffected = len(earning), len(affected)
	for _, rule := range rules {
		out.PerRule = append(out.PerRule, ruleImpact{RuleID: rule.ID, Name: rule.Name, Points: perRule[rule.ID]})
	}
	writeJSON(w, http.StatusOK, out)
}
