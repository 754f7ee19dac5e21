package domain

import (
	"slices"
	"testing"
)

// qualifying_kinds lists the kinds of credit that count towards tiers; left out, purchases and campaign bonuses do.
func TestQualifyingKinds(t *testing.T) {
	p := DefaultProgram()
	if got := p.Qualifying(); !slices.Equal(got, []string{"purchase", "campaign"}) {
		t.Fatalf("default qualifying kinds: %v", got)
	}
	for _, c := range []struct {
		kinds []string
		field string // "" when valid
	}{
		{[]string{"purchase", "challenge", "birthday", "adjustment", "import", "campaign"}, ""},
		{[]string{"adjustment"}, ""},
		{[]string{}, "qualifying_kinds"},
		{[]string{"purchase", "redemption"}, "qualifying_kinds[1]"},
		{[]string{"campaign", "campaign"}, "qualifying_kinds[1]"},
	} {
		p.QualifyingKinds = c.kinds
		err := p.Validate()
		if (c.field == "") != (err == nil) || (c.field != "" && !namesField(err, c.field)) {
			t.Errorf("qualifying_kinds %v: %v (want field %q)", c.kinds, err, c.field)
		}
	}
}

// min_tier opens an offer to a tier and every tier above it in the program's order; eligible_tiers stays an exact
// list; an offer gives one or the other, and a minimum tier the program does not have is refused.
func TestOfferMinTier(t *testing.T) {
	p := DefaultProgram() // member < silver < gold
	silverUp := Offer{Title: "Lounge", PointsCost: 10, MinTier: "silver"}
	for tier, want := range map[string]bool{"member": false, "silver": true, "gold": true, "": false} {
		if got := silverUp.OpenToTier(p, tier); got != want {
			t.Errorf("min_tier silver, member of %q: open %v", tier, got)
		}
	}
	exact := Offer{Title: "Lounge", PointsCost: 10, EligibleTiers: []string{"member"}}
	if exact.OpenToTier(p, "gold") || !exact.OpenToTier(p, "member") {
		t.Error("eligible_tiers is an exact list")
	}
	if !(Offer{Title: "Mug", PointsCost: 1}).OpenToTier(p, "gold") {
		t.Error("an offer without tiers is open to every tier")
	}
	if err := silverUp.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := silverUp.FitsProgram(p); err != nil {
		t.Fatal(err)
	}
	both := silverUp
	both.EligibleTiers = []string{"gold"}
	if err := both.Validate(); !namesField(err, "min_tier") {
		t.Errorf("eligible_tiers and min_tier both: %v", err)
	}
	unknown := Offer{Title: "Lounge", PointsCost: 10, MinTier: "platinum"}
	if err := unknown.FitsProgram(p); !namesField(err, "min_tier") {
		t.Errorf("a min_tier the program does not have: %v", err)
	}
	if unknown.OpenToTier(p, "gold") {
		t.Error("a min_tier the program no longer has opens the offer to nobody")
	}
	// A change that sets min_tier on an offer with eligible tiers must clear them.
	if _, err := (OfferChange{MinTier: new("gold")}).Apply(exact); !namesField(err, "min_tier") {
		t.Errorf("min_tier added beside eligible_tiers: %v", err)
	}
	if o, err := (OfferChange{MinTier: new("gold"), EligibleTiers: &[]string{}}).Apply(exact); err != nil || o.MinTier != "gold" {
		t.Errorf("eligible_tiers replaced by min_tier: %+v %v", o, err)
	}
}
