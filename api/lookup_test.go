package api_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// TestMemberLookupIsExactNormalisedAndAudited: support finds a member by email (any case), phone (as people write
// it) or external id; nothing partial; every lookup is recorded with its actor and what it found.
func TestMemberLookupIsExactNormalisedAndAudited(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	res := s.Do("POST", "/v1/members/register", s.Keys["pos"], map[string]any{
		"email": "grace@example.com", "name": "Grace Hopper", "phone": "+33612345678", "external_id": "CARD-77",
		"consent": map[string]bool{"email": true}}, "Prefer", "wait=20")
	mustStatus(t, res, http.StatusCreated, "register")
	var m member
	res.Decode(t, &m)
	found := func(token, query string) []string {
		t.Helper()
		res := s.Do("GET", "/v1/members?"+query, token, nil)
		mustStatus(t, res, http.StatusOK, "lookup "+query)
		var out struct {
			Items []member `json:"items"`
		}
		res.Decode(t, &out)
		ids := []string{}
		for _, it := range out.Items {
			ids = append(ids, it.MemberID)
		}
		return ids
	}
	q := func(k, v string) string { return url.Values{k: {v}}.Encode() }
	for _, query := range []string{q("email", " Grace@Example.COM "), q("phone", "+33 6 12 34 56 78"), q("phone", "0033612345678"), q("external_id", "CARD-77")} {
		if ids := found(s.Keys["support"], query); len(ids) != 1 || ids[0] != m.MemberID {
			t.Errorf("%s found %v, want %s", query, ids, m.MemberID)
		}
	}
	for _, query := range []string{q("email", "grace@example"), q("email", "race@example.com"), q("external_id", "CARD-7"), q("phone", "+3361234567")} {
		if ids := found(s.Keys["admin"], query); len(ids) != 0 {
			t.Errorf("%s found %v: only exact matches count", query, ids)
		}
	}
	lookups, err := s.Store.MemberLookups(context.Background(), s.Actors["support"])
	if err != nil {
		t.Fatal(err)
	}
	if len(lookups) != 4 || lookups[0].Field != "email" || lookups[1].Field != "phone" || lookups[3].Field != "external_id" ||
		len(lookups[0].MemberIDs) != 1 || lookups[0].MemberIDs[0] != m.MemberID {
		t.Fatalf("support's lookups: %+v", lookups)
	}
	if admin, _ := s.Store.MemberLookups(context.Background(), s.Actors["admin"]); len(admin) != 4 || len(admin[0].MemberIDs) != 0 {
		t.Fatalf("admin's lookups: %+v", admin)
	}
	for _, query := range []string{"", "email=", "email=a@b.c&phone=%2B33612345678", "email=a@b.c&email=d@e.f", "phone=0612345678",
		"external_id=has%20space", "name=Grace"} {
		if res := s.Do("GET", "/v1/members?"+query, s.Keys["support"], nil); res.Status != http.StatusBadRequest {
			t.Errorf("lookup %q: %d %s, want 400", query, res.Status, res.Body)
		}
	}
	if all, _ := s.Store.MemberLookups(context.Background(), s.Actors["support"]); len(all) != 4 {
		t.Fatalf("a refused lookup was recorded: %d", len(all))
	}
	for _, role := range []string{"pos", "marketer"} {
		if res := s.Do("GET", "/v1/members?"+q("email", "grace@example.com"), s.Keys[role], nil); res.Status != http.StatusForbidden {
			t.Errorf("%s: %d", role, res.Status)
		}
	}
}
