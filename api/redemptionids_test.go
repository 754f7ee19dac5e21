package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
)

// No redemption existence oracle (pen test, issue 21, finding 2): another member's redemption and one that does not
// exist answer the same 404, and redemption ids are not computable from what a client knows.

func TestAnotherMembersRedemptionAnswersLikeAnUnknownOne(t *testing.T) {
	rs := newRewardsStack(t, rewardsOptions{})
	_, tok := rs.memberWithPoints("owner-oracle@example.com", 100)
	_, otherTok := rs.memberWithPoints("prober-oracle@example.com", 0)
	o := rs.offer(map[string]any{"title": "Coffee", "points_cost": 10})
	res, r := rs.claim(tok, o.OfferID, nil, "Idempotency-Key", "oracle-1")
	mustStatus(t, res, http.StatusCreated, "claim")

	for _, route := range []struct{ method, suffix string }{{"GET", ""}, {"POST", "/cancel"}} {
		var first string
		for _, id := range []string{r.RedemptionID, uuid.NewString(), "not-a-uuid"} {
			got := rs.Do(route.method, "/v1/redemptions/"+id+route.suffix, otherTok, nil)
			mustStatus(t, got, http.StatusNotFound, route.method+" another member's or an unknown redemption")
			if first == "" {
				first = string(got.Body)
			} else if string(got.Body) != first {
				t.Errorf("%s %s: %s, but another member's redemption answers %s", route.method, id, got.Body, first)
			}
		}
	}
	// Staff see every redemption; an unknown one answers without echoing what was asked for.
	unknown := uuid.NewString()
	got := rs.Do("GET", "/v1/redemptions/"+unknown, rs.Keys["support"], nil)
	mustStatus(t, got, http.StatusNotFound, "an unknown redemption as support")
	if strings.Contains(string(got.Body), unknown) {
		t.Errorf("the 404 quotes the id: %s", got.Body)
	}
}

func TestRedemptionIDsAreKeyedByTheServerSecret(t *testing.T) {
	rs := newRewardsStack(t, rewardsOptions{})
	id, tok := rs.memberWithPoints("keyed-ids@example.com", 100)
	o := rs.offer(map[string]any{"title": "Tea", "points_cost": 10})
	res, r := rs.claim(tok, o.OfferID, nil, "Idempotency-Key", "keyed-1")
	mustStatus(t, res, http.StatusCreated, "claim")
	oldScheme := uuid.NewSHA1(uuid.MustParse("7d0c5d55-4f0e-4c37-9f38-2f1c3a8f0b6e"), []byte(id+"|"+o.OfferID+"|keyed-1")).String()
	parsed, err := uuid.Parse(r.RedemptionID)
	if err != nil || r.RedemptionID == oldScheme || parsed.Version() != 8 {
		t.Fatalf("redemption id %s (version %d): want a keyed (version 8) id, not the UUIDv5 %s anyone can compute", r.RedemptionID, parsed.Version(), oldScheme)
	}
	// The same key again is the same redemption.
	res, again := rs.claim(tok, o.OfferID, nil, "Idempotency-Key", "keyed-1")
	mustStatus(t, res, http.StatusCreated, "replayed claim")
	if again.RedemptionID != r.RedemptionID {
		t.Fatalf("replayed claim named %s, first %s", again.RedemptionID, r.RedemptionID)
	}
}

// TestAClaimFromBeforeKeyedIDsIsStillFound: a claim made before ids were keyed has the old UUIDv5 id; retried with
// its Idempotency-Key after its stored answer is gone, it answers with that redemption instead of claiming again.
func TestAClaimFromBeforeKeyedIDsIsStillFound(t *testing.T) {
	rs := newRewardsStack(t, rewardsOptions{})
	id, tok := rs.memberWithPoints("legacy-claim@example.com", 100)
	o := rs.offer(map[string]any{"title": "Biscuit", "points_cost": 10})
	legacy := uuid.NewSHA1(uuid.MustParse("7d0c5d55-4f0e-4c37-9f38-2f1c3a8f0b6e"), []byte(id+"|"+o.OfferID+"|old-claim")).String()
	now := time.Now().UTC()
	if err := rs.Store.OpenRedemption(context.Background(), domain.RedemptionClaim{RedemptionID: legacy, OfferID: o.OfferID,
		MemberID: id, Title: "Biscuit", Points: 10, CancelUntil: now.Add(time.Minute), ClaimedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := rs.Store.SetRedemptionStatus(context.Background(), legacy, domain.RedemptionFailed, "test"); err != nil {
		t.Fatal(err)
	}
	res, r := rs.claim(tok, o.OfferID, nil, "Idempotency-Key", "old-claim")
	mustStatus(t, res, http.StatusCreated, "retried old claim")
	if r.RedemptionID != legacy || res.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the retried old claim answered %s (%v), want the redemption %s", res.Body, res.Header, legacy)
	}
	var n int
	if err := rs.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM redemptions WHERE member_id = $1`, id).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d redemptions (%v), want the old one only", n, err)
	}
	// Another member's key of the same spelling finds nothing of it.
	_, otherTok := rs.memberWithPoints("legacy-other@example.com", 100)
	res, other := rs.claim(otherTok, o.OfferID, nil, "Idempotency-Key", "old-claim")
	mustStatus(t, res, http.StatusCreated, "another member's claim with the same key")
	if other.RedemptionID == legacy {
		t.Fatal("another member's claim found the first member's redemption")
	}
}
