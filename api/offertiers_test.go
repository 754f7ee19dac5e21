package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// min_tier opens an offer to a tier and every tier above it: a members-and-up offer is listed to, and claimable by,
// a gold member, where eligible_tiers ["member"] (an exact list) is not; a silver-and-up offer is refused to the entry
// tier. An unknown min_tier, or min_tier beside eligible_tiers, is a 400 naming min_tier.
func TestOfferMinTierOpensToTheTierAndAbove(t *testing.T) {
	rs := newRewardsStack(t, rewardsOptions{})
	gold := register(t, rs.Stack, "min-tier-gold@example.com")
	res := rs.Do("POST", "/v1/transactions/accrue", rs.Keys["pos"], purchase("T-MIN-GOLD", gold, 600_000))
	mustStatus(t, res, http.StatusCreated, "accrue 6000 points")
	goldTok := rs.MemberToken(gold)
	_, entryTok := rs.memberWithPoints("min-tier-entry@example.com", 100)

	membersUp := rs.offer(map[string]any{"title": "Coffee", "points_cost": 10, "min_tier": "member"})
	exact := rs.offer(map[string]any{"title": "Welcome mug", "points_cost": 10, "eligible_tiers": []string{"member"}})
	silverUp := rs.offer(map[string]any{"title": "Lounge", "points_cost": 10, "min_tier": "silver"})
	listed := func(tok string) map[string]bool {
		t.Helper()
		res := rs.Do("GET", "/v1/offers/available", tok, nil)
		mustStatus(t, res, http.StatusOK, "available offers")
		var page struct {
			Items []struct {
				OfferID string `json:"offer_id"`
				MinTier string `json:"min_tier"`
			} `json:"items"`
		}
		res.Decode(t, &page)
		seen := map[string]bool{}
		for _, o := range page.Items {
			seen[o.OfferID] = true
			if o.OfferID == silverUp.OfferID && o.MinTier != "silver" {
				t.Errorf("min_tier shown as %q", o.MinTier)
			}
		}
		return seen
	}
	if seen := listed(goldTok); !seen[membersUp.OfferID] || !seen[silverUp.OfferID] || seen[exact.OfferID] {
		t.Fatalf("offers available to gold: %v", seen)
	}
	if seen := listed(entryTok); !seen[membersUp.OfferID] || seen[silverUp.OfferID] || !seen[exact.OfferID] {
		t.Fatalf("offers available to the entry tier: %v", seen)
	}
	res, r := rs.claim(goldTok, membersUp.OfferID, nil)
	mustStatus(t, res, http.StatusCreated, "gold claims a members-and-up offer")
	if r.Status != "completed" {
		t.Fatalf("claim: %s", res.Body)
	}
	res, _ = rs.claim(entryTok, silverUp.OfferID, nil)
	mustStatus(t, res, http.StatusUnprocessableEntity, "the entry tier claims a silver-and-up offer")
	res, _ = rs.claim(goldTok, exact.OfferID, nil)
	mustStatus(t, res, http.StatusUnprocessableEntity, "gold claims a members-only offer")

	// Editing: min_tier in place of eligible_tiers, and cleared with "".
	res = rs.Do("PATCH", "/v1/offers/"+exact.OfferID, rs.Keys["marketer"], map[string]any{"eligible_tiers": []string{}, "min_tier": "gold"})
	mustStatus(t, res, http.StatusOK, "eligible_tiers replaced by min_tier")
	if seen := listed(entryTok); seen[exact.OfferID] {
		t.Fatal("a gold-and-up offer listed to the entry tier")
	}
	res = rs.Do("PATCH", "/v1/offers/"+exact.OfferID, rs.Keys["marketer"], map[string]any{"min_tier": ""})
	mustStatus(t, res, http.StatusOK, "min_tier cleared")
	if seen := listed(entryTok); !seen[exact.OfferID] {
		t.Fatal("an offer open to every tier not listed")
	}

	for _, c := range []struct {
		name, method, path string
		body               map[string]any
	}{
		{"unknown min_tier", "POST", "/v1/offers", map[string]any{"title": "Mug", "points_cost": 10, "min_tier": "platinum"}},
		{"both", "POST", "/v1/offers", map[string]any{"title": "Mug", "points_cost": 10, "min_tier": "silver", "eligible_tiers": []string{"gold"}}},
		{"unknown min_tier on an edit", "PATCH", "/v1/offers/" + silverUp.OfferID, map[string]any{"min_tier": "platinum"}},
		{"min_tier beside eligible tiers kept", "PATCH", "/v1/offers/" + silverUp.OfferID, map[string]any{"eligible_tiers": []string{"gold"}}},
		{"min_tier of the wrong shape", "PATCH", "/v1/offers/" + silverUp.OfferID, map[string]any{"min_tier": 3}},
	} {
		res := rs.Do(c.method, c.path, rs.Keys["marketer"], c.body)
		if res.Status != http.StatusBadRequest || !namesFieldInProblem(res.Body, "min_tier") {
			t.Errorf("%s: %d %s, want 400 naming min_tier", c.name, res.Status, res.Body)
		}
	}
	rs.LedgerInvariants()
}

// namesFieldInProblem reports whether a problem document's errors[] names the field.
func namesFieldInProblem(body []byte, field string) bool {
	var p struct {
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &p) != nil {
		return false
	}
	for _, e := range p.Errors {
		if e.Field == field {
			return true
		}
	}
	return false
}
