package api_test

import (
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// The authorisation matrix is generated from the router itself: every route it serves, with the access rule its
// allow(...) declares, is called by every kind of caller. A route added later is covered without touching this file.

// placeholderID fills path parameters other than {memberId}: shaped like an id, naming nothing.
const placeholderID = "00000000-0000-4000-8000-000000000000"

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// fillPath puts memberID in {memberId} and placeholderID in every other parameter.
func fillPath(pattern, memberID string) string {
	return pathParam.ReplaceAllStringFunc(pattern, func(p string) string {
		if p == "{memberId}" {
			return memberID
		}
		return placeholderID
	})
}

// otherParams reports whether the route names a resource other than a member in its path.
func otherParams(pattern string) bool {
	for _, p := range pathParam.FindAllString(pattern, -1) {
		if p != "{memberId}" {
			return true
		}
	}
	return false
}

func TestEveryRouteDeclaresWhoMayCallIt(t *testing.T) {
	doc, _ := loadSpec(t)
	ops := specOperations(doc)
	routes, err := api.RoutesOf(handlerWithoutBackends())
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) == 0 {
		t.Fatal("no routes")
	}
	known := []string{api.RoleMember, api.RolePOS, api.RoleMarketer, api.RoleSupport, api.RoleAdmin}
	for _, rt := range routes {
		name := rt.Method + " " + rt.Pattern
		if rt.Access == nil {
			// Only the routes the document declares public (x-roles: [public]) may go without a rule.
			if roles, _ := xRoles(ops[name]); ops[name] == nil || !slices.Equal(roles, []string{"public"}) {
				t.Errorf("%s declares no access rule: wrap it in r.With(allow(...))", name)
			}
			continue
		}
		a := rt.Access
		if len(a.Roles) == 0 {
			t.Errorf("%s: allow() with no role closes the route to everyone", name)
		}
		for _, r := range a.Roles {
			if !slices.Contains(known, r) {
				t.Errorf("%s: unknown role %q", name, r)
			}
		}
		member := slices.Contains(a.Roles, api.RoleMember)
		switch {
		case member && a.Member == "":
			t.Errorf("%s admits members without saying how their member relates to the resource", name)
		case member && strings.Contains(rt.Pattern, "{memberId}") && a.Member != api.MemberPath:
			t.Errorf("%s names a member in its path, so a member token must be checked against it (allow)", name)
		}
		// The router and the document agree on who may call the route.
		if op := ops[name]; op != nil {
			spec, _ := xRoles(op)
			got := slices.Clone(a.Roles)
			sort.Strings(spec)
			sort.Strings(got)
			if !slices.Equal(spec, got) {
				t.Errorf("%s: the router allows %v, api/openapi.yaml's x-roles say %v", name, got, spec)
			}
		}
	}
}

// TestAuthorisationMatrix calls every route × (no token, each API-key role, the member themself, another member)
// and checks the answer: 401 without a token; 403 for a role the route does not admit; for a member, their own
// resource reached and another member's answered 404, as if it did not exist. "Reached" means the request got past
// authentication and authorisation: whatever the handler then answers (the matrix sends no body, so writes answer
// 400), it is not 401 or 403 — nor 404 when the path names nothing but the member.
func TestAuthorisationMatrix(t *testing.T) {
	// No request limits: each member token calls every route, more than its burst; rates are tested apart.
	s := itest.NewStack(t, temporal, itest.Options{WaitBudget: 300 * time.Millisecond, Limits: &api.Limits{}})
	self := register(t, s, "matrix-self@example.com")
	other := register(t, s, "matrix-other@example.com")
	// Erasing a member is called last, on a member of its own: the sign-out before it refused self's token.
	erased := register(t, s, "matrix-erased@example.com")
	routes, err := api.RoutesOf(s.API.Config.Handler)
	if err != nil {
		t.Fatal(err)
	}
	// Destructive routes last, so that they do not change what the others see; signing the member out everywhere
	// (which refuses their token from then on) after them, and erasing the member (which does as much) at the end.
	destructive := func(rt api.Route) int {
		switch {
		case rt.Method == http.MethodDelete && rt.Pattern == "/v1/members/{memberId}":
			return 3 // erasing the member revokes their tokens too
		case strings.HasSuffix(rt.Pattern, "/sign-out"):
			return 2
		case rt.Method == http.MethodDelete:
			return 1
		}
		return 0
	}
	sort.SliceStable(routes, func(i, j int) bool { return destructive(routes[i]) < destructive(routes[j]) })
	type caller struct {
		name, role, token string
	}
	callers := []caller{{name: "no token"}, {"another member", api.RoleMember, s.MemberToken(other)}, {"the member", api.RoleMember, s.MemberToken(self)}}
	for _, role := range []string{api.RoleMarketer, api.RoleSupport, api.RolePOS, api.RoleAdmin} {
		callers = append(callers, caller{role, role, s.Keys[role]})
	}
	cells := 0
	for _, rt := range routes {
		if rt.Access == nil {
			continue // public, checked by TestEveryRouteDeclaresWhoMayCallIt
		}
		a := rt.Access
		path := fillPath(rt.Pattern, self)
		cs := callers
		if destructive(rt) == 3 {
			path = fillPath(rt.Pattern, erased)
			cs = slices.Clone(callers)
			cs[2].token = s.MemberToken(erased)
		}
		for _, c := range cs {
			res := s.Do(rt.Method, path, c.token, nil)
			cells++
			cell := rt.Method + " " + rt.Pattern + " as " + c.name
			admitted := slices.Contains(a.Roles, c.role)
			switch {
			case c.token == "":
				if res.Status != http.StatusUnauthorized {
					t.Errorf("%s: %d, want 401", cell, res.Status)
				}
			case !admitted:
				if res.Status != http.StatusForbidden {
					t.Errorf("%s: %d, want 403: %s", cell, res.Status, res.Body)
				}
			case c.name == "another member" && a.Member == api.MemberSelf:
				// The route acts on the caller: there is no other member's resource to reach.
			case c.name == "another member":
				if res.Status != http.StatusNotFound {
					t.Errorf("%s (the path names %s): %d, want 404: %s", cell, self, res.Status, res.Body)
				}
			default:
				reached := res.Status != http.StatusUnauthorized && res.Status != http.StatusForbidden &&
					(res.Status != http.StatusNotFound || otherParams(rt.Pattern) || a.Member == api.MemberOwner && c.role == api.RoleMember)
				if !reached {
					t.Errorf("%s: %d, but the route admits %s: %s", cell, res.Status, c.name, res.Body)
				}
			}
		}
	}
	t.Logf("%d routes × %d callers: %d cells", len(routes), len(callers), cells)
}

// TestTillSeesLessOfAMember: the pos role's view of a member — at registration and on reading — leaves out what a
// till does not need (birthdate, phone) and masks the email (OWASP API3); staff and the member see all of it.
func TestTillSeesLessOfAMember(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	res := s.Do("POST", "/v1/members/register", s.Keys["pos"], map[string]any{"email": "ada.till@example.com", "phone": "+33612345678",
		"name": "Ada Till", "birthdate": "1990-12-10", "consent": map[string]bool{"email": true}}, "Prefer", "wait=20")
	mustStatus(t, res, http.StatusCreated, "register at the till")
	var m map[string]any
	res.Decode(t, &m)
	id := m["member_id"].(string)
	views := map[string]map[string]any{"registration": m}
	for _, role := range []string{"pos", "support", "admin"} {
		var v map[string]any
		got := s.Do("GET", "/v1/members/"+id, s.Keys[role], nil)
		mustStatus(t, got, http.StatusOK, "read as "+role)
		got.Decode(t, &v)
		views[role] = v
	}
	var own map[string]any
	s.Do("GET", "/v1/members/"+id, s.MemberToken(id), nil).Decode(t, &own)
	views["member"] = own
	for who, v := range views {
		till := who == "pos" || who == "registration"
		if till != (v["phone"] == nil) || till != (v["birthdate"] == nil) {
			t.Errorf("%s sees phone %v, birthdate %v", who, v["phone"], v["birthdate"])
		}
		want := "ada.till@example.com"
		if till {
			want = "a***@example.com"
		}
		if v["email"] != want || v["name"] != "Ada Till" {
			t.Errorf("%s sees email %v, name %v; want %s", who, v["email"], v["name"], want)
		}
	}
}
