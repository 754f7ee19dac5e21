package api_test

import (
	"net/http"
	"testing"
	"time"
)

type catalogOffer struct {
	OfferID        string     `json:"offer_id"`
	Title          string     `json:"title"`
	PointsCost     int64      `json:"points_cost"`
	Stock          *int64     `json:"stock"`
	StockRemaining *int64     `json:"stock_remaining"`
	EndsAt         *time.Time `json:"ends_at"`
	EligibleTiers  []string   `json:"eligible_tiers"`
	Status         string     `json:"status"`
}

type catalogPage struct {
	Items      []catalogOffer `json:"items"`
	NextCursor string         `json:"next_cursor"`
}

func (rs *rewardsStack) catalog(query string) catalogPage {
	rs.t.Helper()
	res := rs.Do("GET", "/v1/offers"+query, rs.Keys["support"], nil)
	mustStatus(rs.t, res, http.StatusOK, "list offers "+query)
	var p catalogPage
	res.Decode(rs.t, &p)
	return p
}

func titles(p catalogPage) []string {
	out := []string{}
	for _, o := range p.Items {
		out = append(out, o.Title)
	}
	return out
}

// TestCatalogStatusesEditsAndArchive: offers listed by status, newest first; an edit changes what it names and
// applies its new cost to later claims only; stock is added and removed within what is unclaimed; an archived offer
// takes no new claim while a claim made before goes on.
func TestCatalogStatusesEditsAndArchive(t *testing.T) {
	rs := newRewardsStack(t, rewardsOptions{})
	now := time.Now().UTC()
	day := 24 * time.Hour
	ended := rs.offer(map[string]any{"title": "Ended", "points_cost": 10, "starts_at": now.Add(-3 * day), "ends_at": now.Add(-day)})
	scheduled := rs.offer(map[string]any{"title": "Scheduled", "points_cost": 10, "starts_at": now.Add(day)})
	mug := rs.offer(map[string]any{"title": "Mug", "points_cost": 100, "stock": 3})
	if got := titles(rs.catalog("")); len(got) != 3 || got[0] != "Mug" || got[2] != "Ended" {
		t.Fatalf("catalog, newest first: %v", got)
	}
	for status, want := range map[string]string{"active": "Mug", "scheduled": "Scheduled", "ended": "Ended"} {
		if got := titles(rs.catalog("?status=" + status)); len(got) != 1 || got[0] != want {
			t.Errorf("status %s: %v, want [%s]", status, got, want)
		}
	}
	first := rs.catalog("?limit=2")
	second := rs.catalog("?limit=2&cursor=" + first.NextCursor)
	if len(first.Items) != 2 || first.NextCursor == "" || len(second.Items) != 1 || second.Items[0].OfferID != ended.OfferID {
		t.Fatalf("pages: %+v then %+v", first, second)
	}
	if res := rs.Do("GET", "/v1/offers/"+scheduled.OfferID, rs.Keys["marketer"], nil); res.Status != http.StatusOK {
		t.Fatalf("get offer: %d %s", res.Status, res.Body)
	}

	// A claim at 100 points, then the cost goes up: the claim keeps its 100, the next claim pays 150.
	id, token := rs.memberWithPoints("catalog@example.com", 1_000)
	_, before := rs.claim(token, mug.OfferID, nil)
	if before.Status != "completed" {
		t.Fatalf("claim: %+v", before)
	}
	res := rs.Do("PATCH", "/v1/offers/"+mug.OfferID, rs.Keys["marketer"], map[string]any{
		"title": " Big mug ", "points_cost": 150, "add_stock": 2, "eligible_tiers": []string{}, "ends_at": now.Add(30 * day),
	})
	mustStatus(t, res, http.StatusOK, "patch offer")
	var o catalogOffer
	res.Decode(t, &o)
	if o.Title != "Big mug" || o.PointsCost != 150 || *o.Stock != 5 || *o.StockRemaining != 4 || o.EndsAt == nil {
		t.Fatalf("patched offer: %+v", o)
	}
	res = rs.Do("PATCH", "/v1/offers/"+mug.OfferID, rs.Keys["marketer"], map[string]any{"ends_at": nil})
	mustStatus(t, res, http.StatusOK, "clear ends_at")
	o = catalogOffer{}
	res.Decode(t, &o)
	if o.EndsAt != nil {
		t.Fatalf("ends_at not cleared: %s", res.Body)
	}
	_, after := rs.claim(token, mug.OfferID, nil)
	if after.Status != "completed" {
		t.Fatalf("second claim: %+v", after)
	}
	if got := rs.available(id); got != 1_000-100-150 {
		t.Fatalf("available after claims at 100 then 150: %d", got)
	}
	if red := rs.redemptionPoints(before.RedemptionID); red != 100 {
		t.Fatalf("the first claim now reads %d points, want the 100 it was claimed for", red)
	}

	// Remove stock: at most what remains unclaimed (3 of 5 left).
	res = rs.Do("PATCH", "/v1/offers/"+mug.OfferID, rs.Keys["marketer"], map[string]any{"add_stock": -4})
	mustStatus(t, res, http.StatusConflict, "remove more than remains")
	res = rs.Do("PATCH", "/v1/offers/"+mug.OfferID, rs.Keys["marketer"], map[string]any{"add_stock": -3})
	mustStatus(t, res, http.StatusOK, "remove what remains")
	res.Decode(t, &o)
	if *o.Stock != 2 || *o.StockRemaining != 0 {
		t.Fatalf("after removing 3: %+v", o)
	}
	rs.Do("PATCH", "/v1/offers/"+mug.OfferID, rs.Keys["marketer"], map[string]any{"add_stock": 5})

	// Archive: no new claim; the claim made before can still be cancelled within its window.
	mustStatus(t, rs.Do("DELETE", "/v1/offers/"+mug.OfferID, rs.Keys["marketer"], nil), http.StatusNoContent, "archive")
	mustStatus(t, rs.Do("DELETE", "/v1/offers/"+mug.OfferID, rs.Keys["admin"], nil), http.StatusNoContent, "archive again")
	if got := titles(rs.catalog("?status=archived")); len(got) != 1 || got[0] != "Big mug" {
		t.Fatalf("archived: %v", got)
	}
	if res, _ := rs.claimRaw(token, mug.OfferID, nil); res.Status != http.StatusUnprocessableEntity {
		t.Fatalf("claim of an archived offer: %d %s", res.Status, res.Body)
	}
	res = rs.Do("POST", "/v1/redemptions/"+after.RedemptionID+"/cancel", rs.Keys["support"], nil, "Prefer", "wait=20")
	mustStatus(t, res, http.StatusOK, "cancel a claim of the archived offer")
	mustStatus(t, rs.Do("PATCH", "/v1/offers/"+mug.OfferID, rs.Keys["marketer"], map[string]any{"title": "x"}), http.StatusConflict, "edit archived")

	// The member's redemptions, newest first, with the offer's title.
	var reds struct {
		Items []struct {
			RedemptionID string `json:"redemption_id"`
			OfferTitle   string `json:"offer_title"`
			Status       string `json:"status"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	res = rs.Do("GET", "/v1/members/"+id+"/redemptions?limit=1", token, nil)
	mustStatus(t, res, http.StatusOK, "member redemptions")
	res.Decode(t, &reds)
	if len(reds.Items) != 1 || reds.Items[0].RedemptionID != after.RedemptionID || reds.Items[0].OfferTitle != "Big mug" ||
		reds.Items[0].Status != "cancelled" || reds.NextCursor == "" {
		t.Fatalf("first page of redemptions: %+v", reds)
	}
	res = rs.Do("GET", "/v1/members/"+id+"/redemptions?cursor="+reds.NextCursor, rs.Keys["support"], nil)
	reds.Items, reds.NextCursor = nil, ""
	res.Decode(t, &reds)
	if len(reds.Items) != 1 || reds.Items[0].RedemptionID != before.RedemptionID || reds.NextCursor != "" {
		t.Fatalf("second page of redemptions: %+v", reds)
	}
	rs.LedgerInvariants()
}

func (rs *rewardsStack) redemptionPoints(id string) int64 {
	rs.t.Helper()
	var r struct {
		Points int64 `json:"points"`
	}
	res := rs.Do("GET", "/v1/redemptions/"+id, rs.Keys["support"], nil)
	res.Decode(rs.t, &r)
	return r.Points
}

// TestCatalogBadInput: every refused request is a 4xx problem and changes nothing.
func TestCatalogBadInput(t *testing.T) {
	rs := newRewardsStack(t, rewardsOptions{})
	unlimited := rs.offer(map[string]any{"title": "Tote", "points_cost": 50})
	path := "/v1/offers/" + unlimited.OfferID
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		want   int
	}{
		{"nothing to change", "PATCH", path, map[string]any{}, 400},
		{"unknown field", "PATCH", path, map[string]any{"stock_remaining": 5}, 400},
		{"stock of an unlimited offer", "PATCH", path, map[string]any{"add_stock": 3}, 400},
		{"negative cost", "PATCH", path, map[string]any{"points_cost": -1}, 400},
		{"ends before it starts", "PATCH", path, map[string]any{"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, 400},
		{"a date that is not one", "PATCH", path, map[string]any{"ends_at": "tomorrow"}, 400},
		{"cash price of the wrong shape", "PATCH", path, map[string]any{"cash_price": map[string]any{"amount": 5, "curr": "EUR"}}, 400},
		{"free", "PATCH", path, map[string]any{"points_cost": 0}, 400},
		{"title null", "PATCH", path, `{"title": 5}`, 400},
		{"unknown offer", "PATCH", "/v1/offers/00000000-0000-4000-8000-000000000000", map[string]any{"title": "x"}, 404},
		{"not an id", "GET", "/v1/offers/nope", nil, 404},
		{"archive unknown", "DELETE", "/v1/offers/00000000-0000-4000-8000-000000000000", nil, 404},
		{"bad status", "GET", "/v1/offers?status=live", nil, 400},
		{"bad limit", "GET", "/v1/offers?limit=0", nil, 400},
		{"bad cursor", "GET", "/v1/offers?cursor=zzz", nil, 400},
		{"not json", "PATCH", path, "title=x", 400},
		{"cash price in another currency", "PATCH", path, map[string]any{"cash_price": map[string]any{"amount": 500, "currency": "USD"}}, 400},
		{"a tier the program does not have", "PATCH", path, map[string]any{"eligible_tiers": []string{"gold", "platinum"}}, 400},
		{"new offer with a cash price in another currency", "POST", "/v1/offers", map[string]any{"title": "Mug", "points_cost": 10, "cash_price": map[string]any{"amount": 500, "currency": "USD"}}, 400},
		{"new offer for a tier the program does not have", "POST", "/v1/offers", map[string]any{"title": "Mug", "points_cost": 10, "eligible_tiers": []string{"platinum"}}, 400},
	}
	for _, c := range cases {
		res := rs.Do(c.method, c.path, rs.Keys["marketer"], c.body)
		if res.Status != c.want || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s, want %d problem", c.name, res.Status, res.Body, c.want)
		}
	}
	res := rs.Do("GET", path, rs.Keys["marketer"], nil)
	var o catalogOffer
	res.Decode(t, &o)
	if o.Title != "Tote" || o.PointsCost != 50 || o.Stock != nil || o.Status != "active" {
		t.Fatalf("a refused change changed the offer: %s", res.Body)
	}
	id, _ := rs.memberWithPoints("bad-catalog@example.com", 0)
	for _, q := range []string{"?limit=500", "?cursor=00000000-0000-4000-8000-000000000000"} {
		if res := rs.Do("GET", "/v1/members/"+id+"/redemptions"+q, rs.Keys["support"], nil); res.Status != 400 {
			t.Errorf("redemptions%s: %d %s", q, res.Status, res.Body)
		}
	}
	if res := rs.Do("GET", "/v1/members/00000000-0000-4000-8000-000000000000/redemptions", rs.Keys["support"], nil); res.Status != 404 {
		t.Errorf("redemptions of nobody: %d", res.Status)
	}
}
