package store_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// TestDecodedProgramsAreCopies: settings decoded through the cache are what json.Unmarshal gives, every time, even
// after a reader changed what it was given; settings that differ by a byte are decoded afresh; a document that does not
// decode fails as before and is not remembered.
func TestDecodedProgramsAreCopies(t *testing.T) {
	p := domain.DefaultProgram()
	days := 30
	p.RetroClaimDays = &days
	p.PointValue = &domain.PointValue{Amount: 1, Currency: "EUR", PerPoints: 100}
	p.QualifyingKinds = []string{domain.QualifyPurchase, domain.QualifyCampaign}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var want domain.Program
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	first, err := store.DecodeProgram(raw)
	if err != nil || !reflect.DeepEqual(first, want) {
		t.Fatalf("first decode: %+v, %v", first, err)
	}
	first.Tiers[0].ThresholdPoints = 999_999
	first.QualifyingKinds[0] = "changed"
	*first.RetroClaimDays = 1
	first.PointValue.Amount = 42
	for range 2 {
		again, err := store.DecodeProgram(raw)
		if err != nil || !reflect.DeepEqual(again, want) {
			t.Fatalf("a decode after a reader changed its copy: %+v, %v; want %+v", again, err, want)
		}
	}

	p.Tiers[0].ThresholdPoints++
	changed, _ := json.Marshal(p)
	got, err := store.DecodeProgram(changed)
	if err != nil || got.Tiers[0].ThresholdPoints != want.Tiers[0].ThresholdPoints+1 {
		t.Fatalf("changed settings decoded as %+v, %v", got.Tiers, err)
	}

	bad := []byte(`{"tiers": "none"}`)
	for range 2 {
		if _, err := store.DecodeProgram(bad); err == nil {
			t.Fatal("settings that do not decode were accepted")
		}
	}
}
