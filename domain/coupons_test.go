package domain

import (
	"strings"
	"testing"
	"time"
)

func TestNormalizeCouponCode(t *testing.T) {
	for in, want := range map[string]string{
		"ABCD-EFGH-JKMN-PQRS": "ABCDEFGHJKMNPQRS",
		"abcd efgh jkmn pqrs": "ABCDEFGHJKMNPQRS",
		"CODE-1":              "CODE1",
	} {
		if got, ok := NormalizeCouponCode(in); !ok || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "A", "-ABC", "ABC-", "AB/CD", "AB%2FCD", "ÀBCD", strings.Repeat("A", 65), "AB\x00CD"} {
		if got, ok := NormalizeCouponCode(bad); ok {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}

func TestCouponStatusOf(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Second)
	cases := []struct {
		red          RedemptionStatus
		voided, used bool
		expires      *time.Time
		want         CouponStatus
	}{
		{RedemptionCompleted, false, false, nil, CouponValid},
		{RedemptionCompleted, false, false, &future, CouponValid},
		{RedemptionCompleted, false, false, &now, CouponExpired},
		{RedemptionCompleted, false, true, &past, CouponUsed},
		{RedemptionCompleted, true, false, nil, CouponCancelled},
		{RedemptionCancelled, false, false, &past, CouponCancelled},
		{RedemptionFailed, false, false, nil, CouponCancelled},
	}
	for _, c := range cases {
		if got := CouponStatusOf(c.red, c.voided, c.used, c.expires, now); got != c.want {
			t.Errorf("%+v: %s, want %s", c, got, c.want)
		}
	}
}

func TestOfferCodeValidDays(t *testing.T) {
	for days, ok := range map[int64]bool{1: true, 3650: true, 0: false, -1: false, 3651: false} {
		o := Offer{Title: "x", PointsCost: 1, CodeValidDays: &days}
		if err := o.Validate(); (err == nil) != ok {
			t.Errorf("code_valid_days %d: %v", days, err)
		}
	}
	c := RedemptionClaim{CodeValidDays: 2}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if e := c.CouponExpiry(at); e == nil || !e.Equal(at.Add(48*time.Hour)) {
		t.Errorf("expiry %v", e)
	}
	if e := (RedemptionClaim{}).CouponExpiry(at); e != nil {
		t.Errorf("a code that does not expire expires at %v", e)
	}
}
