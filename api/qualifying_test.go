package api_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// The program's qualifying_kinds say which credits count towards tiers, in the member view's qualifying points and
// points_to_next alike; GET /v1/program spells the default out; an unknown kind is a 400 naming it. Lifetime is
// net of returns: a purchase bought and returned no longer counts.
func TestQualifyingKindsAndLifetimeThroughTheAPI(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "qualifying-kinds@example.com")
	pos, admin, support := s.Keys["pos"], s.Keys["admin"], s.Keys["support"]
	mustStatus(t, s.Do("POST", "/v1/transactions/accrue", pos, purchase("T-QK", id, 10_000)), http.StatusCreated, "accrue 100 points")
	mustStatus(t, s.Do("POST", "/v1/members/"+id+"/adjustments", support,
		map[string]any{"adjustment_id": "ADJ-QK", "points": 300, "reason": "goodwill"}, "Prefer", "wait=20"), http.StatusCreated, "credit 300")
	m := getMember(t, s, id, pos)
	if m.Balance.Qualifying != 100 || m.Tier.PointsToNext != 900 || m.Balance.Lifetime != 400 {
		t.Fatalf("default kinds (adjustments do not qualify): %+v %+v", *m.Balance, *m.Tier)
	}

	var prog map[string]any
	res := s.Do("GET", "/v1/program", admin, nil)
	mustStatus(t, res, http.StatusOK, "program")
	res.Decode(t, &prog)
	if kinds, _ := prog["qualifying_kinds"].([]any); !slices.Equal(kinds, []any{"purchase", "campaign"}) {
		t.Fatalf("default qualifying_kinds shown as %v", prog["qualifying_kinds"])
	}
	delete(prog, "version")
	delete(prog, "effective_from")
	prog["qualifying_kinds"] = []string{"purchase", "bonus"}
	res = s.Do("PUT", "/v1/program", admin, prog)
	if res.Status != http.StatusBadRequest || !namesFieldInProblem(res.Body, "qualifying_kinds[1]") {
		t.Fatalf("an unknown kind: %d %s", res.Status, res.Body)
	}
	prog["qualifying_kinds"] = []string{"purchase", "adjustment"}
	mustStatus(t, s.Do("PUT", "/v1/program", admin, prog, "Prefer", "wait=20"), http.StatusOK, "adjustments qualify")
	if m = getMember(t, s, id, pos); m.Balance.Qualifying != 400 || m.Tier.PointsToNext != 600 {
		t.Fatalf("adjustments qualifying: %+v %+v", *m.Balance, *m.Tier)
	}

	// The purchase returned in full: neither its qualifying points nor its lifetime points count any more.
	mustStatus(t, s.Do("POST", "/v1/transactions/T-QK/return", pos, map[string]any{"return_id": "R-QK",
		"items": []map[string]any{{"sku": "SKU-1", "quantity": 1}}}, "Prefer", "wait=20"), http.StatusCreated, "return")
	if m = getMember(t, s, id, pos); m.Balance.Qualifying != 300 || m.Balance.Lifetime != 300 {
		t.Fatalf("after the return: %+v", *m.Balance)
	}
	s.LedgerInvariants()
}
