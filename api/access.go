package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/perkflow/perkflow/domain"
)

// Access rules: what a caller may do. Every /v1 route declares its rule on its registration line (routes.go), and
// the rule is checked once per request, on the route chi matched, before anything else of the route runs (the
// write guards, the handler). Who may call each route is docs/api.md's and api/openapi.yaml's x-roles.

// MemberScope says how a member token relates to the resource of a route that members may call. It is the
// object-level half of a route's access rule (the role list is the function-level half).
type MemberScope string

const (
	// MemberPath: the route's {memberId} path parameter must be the caller's own member id. Another member's id
	// answers 404, so that a member cannot learn whether it exists. allow gives this to member routes with
	// {memberId}.
	MemberPath MemberScope = "path"
	// MemberSelf: the route names no member; it acts on the token's member (POST /v1/offers/{offerId}/claim) or on
	// nobody's data (GET /v1/program). Its handler must take the member from the token, never from the request. A
	// route reaching a resource some member owns is declared with allowOwner instead. allow gives this to member
	// routes without {memberId}.
	MemberSelf MemberScope = "self"
	// MemberOwner: the route's resource belongs to a member, found by the route's OwnerLookup (a redemption); it
	// must be the caller, else 404.
	MemberOwner MemberScope = "owner"

	// memberByRoute: MemberPath where the route has {memberId}, else MemberSelf (what allow declares); resolved when
	// the route is registered.
	memberByRoute MemberScope = "by-route"
)

// OwnerLookup finds the member who owns the resource a request names, and the resource itself, which the route's
// handler then takes with owned instead of reading it again. A resource that does not exist answers
// domain.ErrNotFound (→ 404, as for a resource that is not the caller's).
type OwnerLookup func(r *http.Request) (memberID string, resource any, err error)

// ownedBy is the OwnerLookup of a resource that read finds and whose owner names its member.
func ownedBy[T any](read func(*http.Request) (T, error), owner func(T) string) OwnerLookup {
	return func(r *http.Request) (string, any, error) {
		v, err := read(r)
		if err != nil {
			return "", nil, err
		}
		return owner(v), v, nil
	}
}

type ownedKey struct{}

// owned is the resource the route's OwnerLookup found for this request, or, when the rule did not look it up (the
// caller is staff, whom ownership does not concern), what read finds.
func owned[T any](r *http.Request, read func(*http.Request) (T, error)) (T, error) {
	if v, ok := r.Context().Value(ownedKey{}).(T); ok {
		return v, nil
	}
	return read(r)
}

// Access is a route's access rule: who may call it, and for member tokens how their member must relate to it.
type Access struct {
	// Roles may call the route; RoleMember among them admits member tokens, subject to Member.
	Roles []string
	// Member is how a member token's member must relate to the resource; "" when members may not call the route.
	Member MemberScope
	owner  OwnerLookup
}

// allow is a route's access rule: the roles that may call it. When RoleMember is among them and the route has a
// {memberId} parameter, a member may only reach their own: another member's id answers 404, so that a member cannot
// learn whether it exists (MemberPath). Member routes without {memberId} act on the token's member or on nobody's
// data (MemberSelf); a route reaching a resource some member owns is declared with allowOwner instead.
func allow(roles ...string) Access {
	a := Access{Roles: roles}
	if slices.Contains(roles, RoleMember) {
		a.Member = memberByRoute
	}
	return a
}

// allowOwner is the access rule of a route whose resource belongs to a member, found by owner (MemberOwner): a member
// token reaches only its own member's; another's answers 404. Staff roles are not subject to ownership.
func allowOwner(owner OwnerLookup, roles ...string) Access {
	if owner == nil || !slices.Contains(roles, RoleMember) {
		panic("allowOwner: needs an OwnerLookup, and RoleMember among the roles")
	}
	return Access{Roles: roles, Member: MemberOwner, owner: owner}
}

// forPattern resolves memberByRoute for the route pattern the rule is registered on.
func (a Access) forPattern(pattern string) Access {
	if a.Member == memberByRoute {
		a.Member = MemberSelf
		if strings.Contains(pattern, "{memberId}") {
			a.Member = MemberPath
		}
	}
	return a
}

// admit lets r through the rule, or returns why not: 401 without a principal, 403 for a role the rule does not
// list, 404 for a member reaching another member's resource. For MemberOwner it returns r carrying the resource
// the lookup found (owned).
func (a Access) admit(r *http.Request) (*http.Request, error) {
	p, ok := principalFrom(r.Context())
	if !ok {
		return r, problem(domain.ErrUnauthorized, "authentication required")
	}
	if !slices.Contains(a.Roles, p.Role) {
		return r, problem(domain.ErrForbidden, "this route is not open to the "+p.Role+" role")
	}
	if p.Role != RoleMember {
		return r, nil
	}
	switch a.Member {
	case MemberPath:
		if id := chi.URLParam(r, "memberId"); id == "" || id != p.MemberID {
			return r, problem(domain.ErrNotFound, "no such member")
		}
	case MemberSelf:
	case MemberOwner:
		owner, res, err := a.owner(r)
		if codeOf(err) == domain.ErrNotFound || (err == nil && owner != p.MemberID) {
			return r, problem(domain.ErrNotFound, "not found")
		}
		if err != nil {
			return r, fmt.Errorf("find the owner of %s: %w", routePattern(r), err)
		}
		return r.WithContext(context.WithValue(r.Context(), ownedKey{}, res)), nil
	default:
		return r, problem(domain.ErrNotFound, "not found")
	}
	return r, nil
}

// accessRule is a route's handler behind its access rule. Being a type of its own lets RoutesOf find each route's
// rule by walking the router.
type accessRule struct {
	Access
	next http.Handler
}

func (a *accessRule) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r, err := a.admit(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	a.next.ServeHTTP(w, r)
}
