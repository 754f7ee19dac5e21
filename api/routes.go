package api

import (
	"errors"
	"net/http"
	"sort"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/workflows"
)

// routes is the API's table of contents: every route it serves, each /v1 route with its access rule on its line.
// The contract of each route is docs/api.md and api/openapi.yaml.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(assignRequestID, s.logRequests, middleware.Recoverer)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, problem(errNoRoute, "no such route"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, problem(errMethodNotAllowed, "this method is not allowed on this route"))
	})

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/openapi.yaml", serveOpenAPI)
	r.Get("/docs", serveDocs)
	r.Get("/docs/problems", serveProblems)
	r.Get("/docs/assets/{file}", serveDocsAsset)
	// Stripe authenticates its webhook by signature, not bearer token: outside the authenticated /v1 group.
	r.Post("/v1/webhooks/stripe", s.stripeWebhook)
	// The same for Twilio's inbound SMS (X-Twilio-Signature), and for unsubscribe links (a signed token).
	r.Post("/v1/webhooks/twilio", s.twilioInbound)
	r.Post("/v1/unsubscribe", s.unsubscribe)

	// Temporal's remote payload codec, for the Temporal UI and CLI (codec.go): CORS for the UI's origins, then the
	// same authentication and rules as /v1.
	r.Route("/codec", func(r chi.Router) {
		r.Use(s.codecCORS, s.authenticate, s.guards.rate)
		r.Options("/{operation}", codecPreflight)
		v := v1Router{r: r}
		v.post("/decode", allow(RoleSupport, RoleAdmin), s.codecDecode)
		v.post("/encode", allow(RoleSupport, RoleAdmin), s.codecEncode)
	})
	r.Route("/v1", func(r chi.Router) {
		r.Use(s.authenticate, s.guards.rate)
		s.v1Routes(v1Router{r: r, guards: s.guards})
	})
	return r
}

// v1Routes registers the authenticated routes.
func (s *Server) v1Routes(v v1Router) {
	const (
		member, pos, marketer, support, admin = RoleMember, RolePOS, RoleMarketer, RoleSupport, RoleAdmin
	)
	// Members.
	v.post("/members/register", allow(pos, admin), s.registerMember)
	v.get("/members/{memberId}", allow(member, pos, support, admin), s.getMember)
	v.patch("/members/{memberId}", allow(member, admin), s.patchMember)
	v.delete("/members/{memberId}", allow(admin), s.eraseMember) // erasure of personal data; the ledger stays
	v.get("/members/{memberId}/export", allow(member, admin), s.exportMember)
	v.get("/members/{memberId}/history", allow(member, support, admin), s.memberHistory)
	v.get("/members/{memberId}/challenges", allow(member, support, admin), s.memberChallenges)
	v.post("/members/{memberId}/adjustments", allow(support, admin), s.adjustPoints)
	v.get("/members", allow(support, admin), s.lookUpMembers) // by email, phone or external id; audited
	v.post("/members/{memberId}/sign-out", allow(member, support, admin), s.signOutEverywhere)

	// Transactions (POS).
	v.post("/transactions/accrue", allow(pos), s.accrue)
	v.get("/transactions/{transactionId}", allow(pos, support, admin), s.getTransaction)
	v.post("/transactions/{transactionId}/return", allow(pos), s.returnPurchase)
	v.post("/transactions/redeem", allow(pos), s.redeemAtTill)

	// Offers and redemptions. A redemption belongs to the member who claimed it.
	redemption := allowOwner(ownedBy(s.readRedemption, func(red domain.Redemption) string { return red.MemberID }),
		member, support, admin)
	v.post("/offers", allow(marketer, admin), s.createOffer)
	v.get("/offers/available", allow(member), s.availableOffers)
	v.post("/offers/{offerId}/claim", allow(member), s.claimOffer)
	v.get("/redemptions/{redemptionId}", redemption, s.getRedemption)
	v.post("/redemptions/{redemptionId}/cancel", redemption, s.cancelRedemption)
	// The catalog as marketers and support see it (issue 14).
	v.get("/offers", allow(marketer, support, admin), s.listOffers)
	v.get("/offers/{offerId}", allow(marketer, support, admin), s.getOffer)
	v.patch("/offers/{offerId}", allow(marketer, admin), s.updateOffer)
	v.delete("/offers/{offerId}", allow(marketer, admin), s.archiveOffer)
	v.get("/members/{memberId}/redemptions", allow(member, support, admin), s.memberRedemptions)
	v.get("/coupons/{code}", allow(pos, support, admin), s.getCoupon)
	v.post("/coupons/{code}/use", allow(pos), s.useCoupon)

	// Program and earning rules.
	v.get("/program", allow(member, pos, marketer, support, admin), s.getProgram)
	v.put("/program", allow(admin), s.putProgram)
	v.get("/rules", allow(marketer, admin), s.listRules)
	v.post("/rules", allow(marketer, admin), s.createRule)
	v.post("/rules/simulate", allow(marketer, admin), s.simulateRules)
	v.get("/rules/{ruleId}", allow(marketer, admin), s.getRule)
	v.put("/rules/{ruleId}", allow(marketer, admin), s.updateRule)
	v.delete("/rules/{ruleId}", allow(marketer, admin), s.deleteRule)

	// Campaigns.
	v.get("/campaigns", allow(marketer, admin), s.listCampaigns)
	v.post("/campaigns", allow(marketer, admin), s.createCampaign)
	v.post("/campaigns/preview", allow(marketer, admin), s.previewCampaign)
	v.get("/campaigns/{campaignId}", allow(marketer, support, admin), s.getCampaign)
	v.get("/campaigns/{campaignId}/report", allow(marketer, admin), s.campaignReport)
	v.post("/campaigns/{campaignId}/pause", allow(marketer, admin), s.campaignSignal(workflows.CampaignSignalPause))
	v.post("/campaigns/{campaignId}/resume", allow(marketer, admin), s.campaignSignal(workflows.CampaignSignalResume))
	v.post("/campaigns/{campaignId}/cancel", allow(marketer, admin), s.campaignSignal(workflows.CampaignSignalCancel))
	v.post("/campaigns/{campaignId}/extend", allow(marketer, admin), s.campaignSignal(workflows.CampaignSignalExtend))

	// Gamification.
	v.get("/challenges", allow(member, marketer, support, admin), s.listChallenges)
	v.post("/challenges", allow(marketer, admin), s.createChallenge)
	v.post("/challenges/{challengeId}/join", allow(member), s.joinChallenge)
	v.get("/gamification/leaderboard", allow(member, marketer, support, admin), s.leaderboard)

	// Reports (issue 14).
	v.get("/reports/liability", allow(marketer, support, admin), s.liability)
	v.get("/reports/points", allow(marketer, admin), s.pointsFlowReport)

	// API keys (issue 14).
	v.get("/api-keys", allow(admin), s.listAPIKeys)
	v.post("/api-keys", allow(admin), s.createAPIKey)
	v.delete("/api-keys/{name}", allow(admin), s.revokeAPIKey)

	// Outbound webhooks.
	v.get("/webhook-endpoints", allow(admin), s.listWebhookEndpoints)
	v.post("/webhook-endpoints", allow(admin), s.createWebhookEndpoint)
	v.get("/webhook-endpoints/{endpointId}", allow(admin), s.getWebhookEndpoint)
	v.patch("/webhook-endpoints/{endpointId}", allow(admin), s.updateWebhookEndpoint)
	v.delete("/webhook-endpoints/{endpointId}", allow(admin), s.deleteWebhookEndpoint)
	v.post("/webhook-endpoints/{endpointId}/rotate-secret", allow(admin), s.rotateWebhookSecret)
	v.get("/webhook-endpoints/{endpointId}/deliveries", allow(admin), s.webhookDeliveries)
	v.post("/webhook-endpoints/{endpointId}/replay", allow(admin), s.replayWebhookEvents)
	// Bulk imports: the file is streamed (up to 2 GiB), never buffered, so no Idempotency-Key (re-importing a file
	// changes nothing anyway).
	v.upload("/imports", allow(admin), s.createImport)
	v.get("/imports/{importId}", allow(admin), s.getImport)
	v.get("/imports/{importId}/errors", allow(admin), s.importErrors)
	v.post("/imports/{importId}/cancel", allow(admin), s.cancelImport)
}

// v1Router registers the authenticated routes of /v1. Each registration names the route's access rule, and the
// route then runs, once chi has matched it: the access rule (access.go), the write guards (guards.go), the
// handler. Routes are added only through it, so no /v1 route goes without a rule.
type v1Router struct {
	r      chi.Router
	guards *guards // nil: no write guards (unit tests of access rules)
}

func (v v1Router) get(pattern string, a Access, h http.HandlerFunc) {
	v.handle(http.MethodGet, pattern, a, h)
}
func (v v1Router) post(pattern string, a Access, h http.HandlerFunc) {
	v.handle(http.MethodPost, pattern, a, h)
}
func (v v1Router) put(pattern string, a Access, h http.HandlerFunc) {
	v.handle(http.MethodPut, pattern, a, h)
}
func (v v1Router) patch(pattern string, a Access, h http.HandlerFunc) {
	v.handle(http.MethodPatch, pattern, a, h)
}
func (v v1Router) delete(pattern string, a Access, h http.HandlerFunc) {
	v.handle(http.MethodDelete, pattern, a, h)
}

// upload registers a POST whose body is streamed to the handler: behind the access rule and the per-member write
// cap, without the Idempotency-Key guard, which buffers bodies of at most MaxBodyBytes.
func (v v1Router) upload(pattern string, a Access, h http.HandlerFunc) {
	var next http.Handler = h
	if v.guards != nil {
		next = v.guards.memberWrites(h)
	}
	v.r.Method(http.MethodPost, pattern, &accessRule{Access: a.forPattern(pattern), next: next})
}

func (v v1Router) handle(method, pattern string, a Access, h http.Handler) {
	if v.guards != nil {
		h = v.guards.protect(h)
	}
	v.r.Method(method, pattern, &accessRule{Access: a.forPattern(pattern), next: h})
}

// Route is a route the API serves and its access rule (nil for the few public routes, such as /healthz).
type Route struct {
	Method  string
	Pattern string
	Access  *Access
}

// RoutesOf lists the routes of a handler built by New, with each one's access rule, sorted by pattern and method.
// Tests generate their authorisation matrix and fuzz targets from it, so that a route added later is covered.
func RoutesOf(h http.Handler) ([]Route, error) {
	routes, ok := h.(chi.Routes)
	if !ok {
		return nil, errors.New("not a chi router")
	}
	var out []Route
	err := chi.Walk(routes, func(method, pattern string, h http.Handler, _ ...func(http.Handler) http.Handler) error {
		rt := Route{Method: method, Pattern: pattern}
		if rule, ok := h.(*accessRule); ok {
			a := rule.Access
			rt.Access = &a
		}
		out = append(out, rt)
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pattern != out[j].Pattern {
			return out[i].Pattern < out[j].Pattern
		}
		return out[i].Method < out[j].Method
	})
	return out, err
}

// routePattern is the pattern of the route chi matched ("unmatched" before routing or for no route), for logs and
// metrics: never the raw path, which may carry ids of members.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return "unmatched"
}
