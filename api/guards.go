package api

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// guards are the protections every authenticated /v1 request passes, in this order (authentication itself limits
// failures per client address: authfailures.go):
//
//  1. rate, before routing: a token bucket per API key and per member token (429 with Retry-After), and a cap on
//     the requests of one API key in flight;
//  2. the route's access rule (access.go), once chi has matched the route — the one access check of a request;
//  3. memberWrites: a cap on the writes concerning one member in flight (429), for the members the request names
//     and those its handler finds (holdMember);
//  4. idempotency: Idempotency-Key on POST (idempotency.go).
//
// Guards 3 and 4 are put behind each route's access rule when the route is registered (routes.go), so that they
// only engage for requests the rule lets through, and a refused request writes nothing. This is the one place to
// add request-wide limits and replay protection.
type guards struct {
	store  *store.Store
	log    *slog.Logger
	limits Limits

	keyRates    *rateLimiters
	memberRates *rateLimiters
	keyInFlight *concurrency
	writes      *concurrency
	// authFailures counts failed authentications per client address; recentKeys are the keys seen valid lately
	// (authfailures.go).
	authFailures *rateLimiters
	recentKeys   *recentKeys
	// couponMisses counts each caller's lookups of coupon codes that do not exist (coupons.go).
	couponMisses *rateLimiters
}

func newGuards(st *store.Store, lim Limits, log *slog.Logger) *guards {
	return &guards{
		store: st, log: log, limits: lim,
		keyRates: newRateLimiters(lim.APIKey), memberRates: newRateLimiters(lim.Member),
		keyInFlight: newConcurrency(lim.APIKeyInFlight), writes: newConcurrency(lim.MemberWrites),
		authFailures: newRateLimiters(lim.AuthFailures), recentKeys: newRecentKeys(),
		couponMisses: newRateLimiters(lim.CouponMisses),
	}
}

// protect puts a route's handler behind the guards that run after its access rule.
func (g *guards) protect(h http.Handler) http.Handler {
	return g.memberWrites(g.idempotency(h))
}

// run does the guards' housekeeping until ctx ends: prunes idempotency keys past their 24 hours and forgets idle
// rate-limit buckets.
func (g *guards) run(ctx context.Context) {
	tick := time.NewTicker(10 * time.Minute)
	defer tick.Stop()
	for {
		if n, err := g.store.PruneIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn("pruning idempotency keys failed", slog.Any("error", err))
		} else if n > 0 {
			g.log.Info("pruned idempotency keys", slog.Int64("deleted", n))
		}
		now := time.Now()
		g.keyRates.sweep(now)
		g.memberRates.sweep(now)
		g.authFailures.sweep(now)
		g.recentKeys.sweep(now)
		g.couponMisses.sweep(now)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// rate applies the caller's token bucket and, for API keys, the in-flight cap.
func (g *guards) rate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principalFrom(r.Context())
		limiter, who := g.keyRates, p.Subject()
		if p.Role == RoleMember {
			limiter = g.memberRates
		}
		if ok, wait := limiter.take(who, time.Now()); !ok {
			g.log.InfoContext(r.Context(), "rate limited", slog.String("actor", p.Actor()), slog.Duration("retry_after", wait))
			fail(w, r, tooManyRequests(wait, "too many requests from this caller; retry after the number of seconds in Retry-After"))
			return
		}
		if p.Role != RoleMember {
			release, ok := g.keyInFlight.acquire(who)
			if !ok {
				g.log.InfoContext(r.Context(), "too many requests in flight", slog.String("actor", p.Actor()))
				fail(w, r, tooManyRequests(time.Second, "too many requests from this API key are being served at once"))
				return
			}
			defer release()
		}
		next.ServeHTTP(w, r)
	})
}

// isWrite reports whether a method changes state.
func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// memberWrites caps the writes concerning one member in flight in this process. It holds a slot, before the
// handler runs, for the members a request names in ways already checked: the member in the path (a member token's
// own, by the access rule) and the member token's own. A member the handler finds itself — in a body's member_id
// once it is decoded and checked, or from the transaction a return names — is held by the handler with holdMember at
// that point, so that a request refused before it (a bad body, an unknown member) never occupies anyone's slot, and
// a request whose member only the handler knows (a return) is capped like the others. Every slot is released when
// the request ends.
func (g *guards) memberWrites(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isWrite(r.Method) || g.limits.MemberWrites <= 0 {
			next.ServeHTTP(w, r)
			return
		}
		h := &heldMembers{slots: g.writes}
		defer h.release()
		for _, id := range []string{chi.URLParam(r, "memberId"), memberOfToken(r)} {
			if err := h.hold(id); err != nil {
				g.log.InfoContext(r.Context(), "too many writes for one member in flight", slog.String("route", routePattern(r)))
				fail(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), heldMembersKey{}, h)))
	})
}

func memberOfToken(r *http.Request) string {
	if p, _ := principalFrom(r.Context()); p.Role == RoleMember {
		return p.MemberID
	}
	return ""
}

// heldMembers are the member slots a write request holds.
type heldMembers struct {
	slots    *concurrency
	ids      []string
	releases []func()
}

type heldMembersKey struct{}

// errMemberBusy answers a write for a member who has too many writes in flight.
func errMemberBusy() error {
	return tooManyRequests(time.Second, "too many requests concerning this member are being served at once")
}

func (h *heldMembers) hold(id string) error {
	if !domain.ValidMemberID(id) || slices.Contains(h.ids, id) {
		return nil
	}
	release, ok := h.slots.acquire(id)
	if !ok {
		return errMemberBusy()
	}
	h.ids = append(h.ids, id)
	h.releases = append(h.releases, release)
	return nil
}

func (h *heldMembers) release() {
	for _, rel := range h.releases {
		rel()
	}
}

// holdMember takes a write slot of the member a handler has found and checked (see memberWrites), for the rest of
// the request; at the cap it answers 429, and the handler must stop there, having written nothing. Outside the
// guard (reads, no cap configured) it holds nothing.
func holdMember(r *http.Request, memberID string) error {
	h, ok := r.Context().Value(heldMembersKey{}).(*heldMembers)
	if !ok {
		return nil
	}
	if err := h.hold(memberID); err != nil {
		logFrom(r.Context()).InfoContext(r.Context(), "too many writes for one member in flight", slog.String("route", routePattern(r)))
		return err
	}
	return nil
}
