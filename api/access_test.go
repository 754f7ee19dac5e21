package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/perkflow/perkflow/domain"
)

// TestAccessRules checks each kind of access rule on a router of its own, with the principal put where
// authentication puts it.
func TestAccessRules(t *testing.T) {
	const self, other = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	owners := map[string]string{"mine": self, "theirs": other}
	ownerOf := func(r *http.Request) (string, any, error) {
		switch id := chi.URLParam(r, "thingId"); id {
		case "broken":
			return "", nil, errors.New("database down")
		default:
			if m, ok := owners[id]; ok {
				return m, id, nil
			}
			return "", nil, domain.Errorf(domain.ErrNotFound, "no thing %s", id)
		}
	}
	reached := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	r := chi.NewRouter()
	v := v1Router{r: r}
	v.get("/members/{memberId}", allow(RoleMember, RoleSupport), reached)
	v.get("/offers", allow(RoleMember), reached)
	v.get("/staff", allow(RoleSupport), reached)
	v.get("/things/{thingId}", allowOwner(ownerOf, RoleMember, RoleSupport), reached)

	member := Principal{Role: RoleMember, MemberID: self}
	support := Principal{Role: RoleSupport, KeyName: "desk"}
	cases := []struct {
		who  Principal
		path string
		want int
	}{
		{member, "/members/" + self, http.StatusTeapot},
		{member, "/members/" + other, http.StatusNotFound},
		{support, "/members/" + other, http.StatusTeapot},
		{member, "/offers", http.StatusTeapot},
		{member, "/staff", http.StatusForbidden},
		{member, "/things/mine", http.StatusTeapot},
		{member, "/things/theirs", http.StatusNotFound},
		{member, "/things/missing", http.StatusNotFound},
		{member, "/things/broken", http.StatusInternalServerError},
		{support, "/things/theirs", http.StatusTeapot}, // staff are not subject to ownership
	}
	for _, c := range cases {
		req := httptest.NewRequest(http.MethodGet, c.path, nil)
		req = req.WithContext(context.WithValue(req.Context(), principalKey{}, c.who))
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s %s: %d, want %d", c.who.Role, c.path, rec.Code, c.want)
		}
	}
	// No principal at all: 401, whatever the rule.
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/offers", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("no principal: %d", rec.Code)
	}

	routes, err := RoutesOf(r)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]MemberScope{"/members/{memberId}": MemberPath, "/offers": MemberSelf, "/staff": "", "/things/{thingId}": MemberOwner}
	for _, rt := range routes {
		if rt.Access == nil || rt.Access.Member != want[rt.Pattern] {
			t.Errorf("%s: access %+v, want member scope %q", rt.Pattern, rt.Access, want[rt.Pattern])
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("allowOwner without RoleMember did not panic")
		}
	}()
	allowOwner(ownerOf, RoleSupport)
}
