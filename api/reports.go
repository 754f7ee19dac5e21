package api

import (
	"net/http"
	"time"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// Reports: GET /v1/reports/liability (the points outstanding now, exact) and GET /v1/reports/points (what moved per
// day, week or month) (docs/api.md, "Reports").

type expiringPoints struct {
	Within30Days int64 `json:"within_30_days"`
	Within60Days int64 `json:"within_60_days"`
	Within90Days int64 `json:"within_90_days"`
}

type liabilityPoints struct {
	Outstanding    int64          `json:"outstanding"`
	Balance        int64          `json:"balance"`
	Available      int64          `json:"available"`
	Pending        int64          `json:"pending"`
	AwaitingExpiry int64          `json:"awaiting_expiry"`
	Held           int64          `json:"held"`
	Expiring       expiringPoints `json:"expiring"`
}

type expiringValue struct {
	Within30Days domain.Money `json:"within_30_days"`
	Within60Days domain.Money `json:"within_60_days"`
	Within90Days domain.Money `json:"within_90_days"`
}

type liabilityValue struct {
	Outstanding    domain.Money  `json:"outstanding"`
	Balance        domain.Money  `json:"balance"`
	Available      domain.Money  `json:"available"`
	Pending        domain.Money  `json:"pending"`
	AwaitingExpiry domain.Money  `json:"awaiting_expiry"`
	Held           domain.Money  `json:"held"`
	Expiring       expiringValue `json:"expiring"`
}

type liabilityReport struct {
	AsOf              time.Time          `json:"as_of"`
	MembersWithPoints int64              `json:"members_with_points"`
	Points            liabilityPoints    `json:"points"`
	PointValue        *domain.PointValue `json:"point_value,omitempty"`
	Value             *liabilityValue    `json:"value,omitempty"`
}

// liabilityReportOf presents a liability, valued at the program's point value when it has one.
func liabilityReportOf(l store.Liability, pv *domain.PointValue) liabilityReport {
	p := liabilityPoints{Outstanding: l.Balance + l.Held, Balance: l.Balance, Available: l.Available, Pending: l.Pending,
		AwaitingExpiry: l.AwaitingExpiry, Held: l.Held,
		Expiring: expiringPoints{Within30Days: l.Expiring30, Within60Days: l.Expiring60, Within90Days: l.Expiring90}}
	rep := liabilityReport{AsOf: l.AsOf, MembersWithPoints: l.Members, Points: p, PointValue: pv}
	if pv != nil {
		rep.Value = &liabilityValue{Outstanding: pv.Of(p.Outstanding), Balance: pv.Of(p.Balance), Available: pv.Of(p.Available),
			Pending: pv.Of(p.Pending), AwaitingExpiry: pv.Of(p.AwaitingExpiry), Held: pv.Of(p.Held),
			Expiring: expiringValue{Within30Days: pv.Of(p.Expiring.Within30Days), Within60Days: pv.Of(p.Expiring.Within60Days),
				Within90Days: pv.Of(p.Expiring.Within90Days)}}
	}
	return rep
}

// liability reports the points outstanding now: the sum of the ledger, split into available, pending and awaiting
// expiry, plus what redemptions in flight hold; with their money value at the program's point_value.
func (s *Server) liability(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	pv, err := s.cfg.Store.ProgramAt(r.Context(), now)
	if err != nil {
		fail(w, r, err)
		return
	}
	l, err := s.cfg.Store.Liability(r.Context(), now)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, liabilityReportOf(l, pv.Program.PointValue))
}

type issuedPoints struct {
	Total      int64 `json:"total"`
	Accrual    int64 `json:"accrual"`
	Bonus      int64 `json:"bonus"`
	Campaign   int64 `json:"campaign"`
	Challenge  int64 `json:"challenge"`
	Adjustment int64 `json:"adjustment"`
}

type pointsPeriod struct {
	Start        time.Time    `json:"start"`
	Issued       issuedPoints `json:"issued"`
	Returned     int64        `json:"returned"`
	Redeemed     int64        `json:"redeemed"`
	Released     int64        `json:"released"`
	Expired      int64        `json:"expired"`
	AdjustedDown int64        `json:"adjusted_down"`
	Net          int64        `json:"net"`
}

func (p *pointsPeriod) add(f store.PointsFlow) {
	p.Issued.Accrual += f.Accrual
	p.Issued.Bonus += f.Bonus
	p.Issued.Campaign += f.Campaign
	p.Issued.Challenge += f.Challenge
	p.Issued.Adjustment += f.Adjusted
	p.Issued.Total += f.Issued()
	p.Returned += f.Returned
	p.Redeemed += f.Redeemed
	p.Released += f.Released
	p.Expired += f.Expired
	p.AdjustedDown += f.AdjDown
	p.Net += f.Net
}

type pointsReport struct {
	From     time.Time      `json:"from"`
	To       time.Time      `json:"to"`
	Interval string         `json:"interval"`
	TimeZone string         `json:"time_zone"`
	Items    []pointsPeriod `json:"items"`
	Totals   pointsPeriod   `json:"totals"`
}

// Bounds of the points report.
const (
	maxReportPeriods  = 400
	maxReportSpan     = 3660 * 24 * time.Hour
	defaultReportDays = 30
)

// pointsReportParams reads ?from, ?to (RFC 3339, or a date meaning midnight in the program's time zone; by default
// the 30 days up to now) and ?interval (day, week or month; day by default).
func pointsReportParams(r *http.Request, now time.Time, loc *time.Location) (from, to time.Time, interval string, err error) {
	q := r.URL.Query()
	var v domain.Validation
	parse := func(field string, def time.Time) time.Time {
		raw := q.Get(field)
		if raw == "" {
			return def
		}
		if t, err := time.Parse(time.RFC3339, raw); err == nil {
			return t
		}
		if d, err := time.ParseInLocation(time.DateOnly, raw, loc); err == nil {
			return d
		}
		v.Add(field, "must be an RFC 3339 time or a YYYY-MM-DD date")
		return def
	}
	to = parse("to", now)
	from = parse("from", to.AddDate(0, 0, -defaultReportDays))
	interval = q.Get("interval")
	if interval == "" {
		interval = "day"
	}
	v.Check(interval == "day" || interval == "week" || interval == "month", "interval", "must be day, week or month")
	v.Check(to.After(from), "to", "must be after from")
	v.Check(to.Sub(from) <= maxReportSpan, "to", "a report covers at most 3660 days")
	if err := v.Err(); err != nil {
		return from, to, interval, err
	}
	if n := len(periodStarts(from, to, interval, loc)); n > maxReportPeriods {
		v.Add("interval", "the report would have %d periods, at most %d: choose a longer interval or a shorter span", n, maxReportPeriods)
	}
	return from, to, interval, v.Err()
}

// periodStarts lists the starts of the periods that [from, to) touches, in loc: midnight, Monday or the 1st.
func periodStarts(from, to time.Time, interval string, loc *time.Location) []time.Time {
	f := from.In(loc)
	start := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
	step := func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	switch interval {
	case "week":
		start = start.AddDate(0, 0, -((int(start.Weekday()) + 6) % 7))
		step = func(t time.Time) time.Time { return t.AddDate(0, 0, 7) }
	case "month":
		start = time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, loc)
		step = func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	}
	var out []time.Time
	for t := start; t.Before(to) && len(out) <= maxReportPeriods; t = step(t) {
		out = append(out, t)
	}
	return out
}

// pointsFlowReport sums what the ledger moved per period: points issued (by where they came from), returned,
// redeemed, released by failed or cancelled claims, expired and adjusted down, in the program's time zone. Every
// period of the span is listed, those in which nothing moved with zeros.
func (s *Server) pointsFlowReport(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	pv, err := s.cfg.Store.ProgramAt(r.Context(), now)
	if err != nil {
		fail(w, r, err)
		return
	}
	loc := pv.Program.Location()
	from, to, interval, err := pointsReportParams(r, now, loc)
	if err != nil {
		fail(w, r, err)
		return
	}
	flows, err := s.cfg.Store.PointsFlows(r.Context(), from, to, interval, loc)
	if err != nil {
		fail(w, r, err)
		return
	}
	rep := pointsReport{From: from, To: to, Interval: interval, TimeZone: loc.String()}
	byStart := map[string]store.PointsFlow{}
	for _, f := range flows {
		byStart[f.Start.Format(time.DateOnly)] = f
	}
	for _, start := range periodStarts(from, to, interval, loc) {
		p := pointsPeriod{Start: start}
		if f, ok := byStart[start.Format(time.DateOnly)]; ok {
			p.add(f)
			rep.Totals.add(f)
		}
		rep.Items = append(rep.Items, p)
	}
	rep.Totals.Start = from
	if rep.Items == nil {
		rep.Items = []pointsPeriod{}
	}
	writeJSON(w, http.StatusOK, rep)
}
