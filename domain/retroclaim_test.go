package domain

import (
	"testing"
	"time"
)

// A purchase is claimable within retro_claim_days (default 30) of both the member's joining and now; the bound is
// inclusive, 0 allows nothing earlier than joining or now, and the setting is validated.
func TestRetroClaimWindow(t *testing.T) {
	now := time.Date(2028, 3, 1, 12, 0, 0, 0, time.UTC)
	joined := now.AddDate(0, 0, -10)
	zero, ninety, tooMany := 0, 90, 3661
	for _, c := range []struct {
		name     string
		days     *int
		occurred time.Time
		joined   time.Time
		ok       bool
	}{
		{"default, 20 days before joining", nil, joined.AddDate(0, 0, -20), joined, true},
		{"default, 21 days before joining", nil, joined.AddDate(0, 0, -21).Add(-time.Second), joined, false},
		{"default, joined today, 30 days before", nil, now.AddDate(0, 0, -30), now, true},
		{"default, joined today, 31 days before", nil, now.AddDate(0, 0, -31), now, false},
		{"joined long ago, 31 days ago", nil, now.AddDate(0, 0, -31), now.AddDate(-2, 0, 0), false},
		{"joined long ago, 29 days ago", nil, now.AddDate(0, 0, -29), now.AddDate(-2, 0, 0), true},
		{"90 days, 80 before joining", &ninety, joined.AddDate(0, 0, -80), joined, true},
		{"90 days, 91 before joining", &ninety, joined.AddDate(0, 0, -91), joined, false},
		{"0 days, a second before joining", &zero, joined.Add(-time.Second), joined, false},
		{"0 days, after joining but before now", &zero, joined.Add(time.Hour), joined, false},
		{"0 days, now", &zero, now, joined, true},
	} {
		p := DefaultProgram()
		p.RetroClaimDays = c.days
		err := p.ClaimableAt(c.occurred, c.joined, now)
		if (err == nil) != c.ok {
			t.Fatalf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && (CodeOf(err) != ErrUnprocessable || !namesField(err, "occurred_at")) {
			t.Fatalf("%s: %v, want a 422 naming occurred_at", c.name, err)
		}
	}
	p := DefaultProgram()
	p.Expiry.Months = 1
	if err := p.ExpiredAlready(now.AddDate(0, -1, 0), now); CodeOf(err) != ErrUnprocessable {
		t.Fatalf("points expiring exactly now: %v", err)
	}
	if err := p.ExpiredAlready(now.AddDate(0, -1, 1), now); err != nil {
		t.Fatalf("points expiring tomorrow: %v", err)
	}
	p.Expiry.Months = 0
	if err := p.ExpiredAlready(now.AddDate(-10, 0, 0), now); err != nil {
		t.Fatalf("points that never expire: %v", err)
	}
	for _, d := range []*int{&zero, &ninety, &tooMany} {
		p := DefaultProgram()
		p.RetroClaimDays = d
		if err := p.Validate(); (err == nil) != (*d <= 3660) {
			t.Fatalf("retro_claim_days %d: %v", *d, err)
		}
	}
}

func namesField(err error, field string) bool {
	e, ok := err.(*Error)
	if !ok {
		return false
	}
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}
