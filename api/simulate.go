package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// POST /v1/rules/simulate: a draft rule set replayed over past purchases, read-only.

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
