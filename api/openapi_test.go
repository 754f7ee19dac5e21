package api_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/store"
)

// loadSpec loads and validates api/openapi.yaml.
func loadSpec(t *testing.T) (*openapi3.T, []byte) {
	t.Helper()
	data, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableSchemaPatternValidation(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("openapi.yaml is not valid: %v", err)
	}
	return doc, data
}

// specOperations lists the spec's operations as "METHOD /path".
func specOperations(doc *openapi3.T) map[string]*openapi3.Operation {
	ops := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	return ops
}

// handlerWithoutBackends builds the API with nothing behind it: enough to walk its routes and serve static answers.
func handlerWithoutBackends() http.Handler {
	return api.New(api.Config{Store: store.New(nil)}).Handler()
}

func TestOpenAPISpecIsValid(t *testing.T) {
	doc, _ := loadSpec(t)
	if !doc.IsOpenAPI31OrLater() || !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi: %q, want 3.1.x", doc.OpenAPI)
	}
	if _, ok := doc.Components.SecuritySchemes["bearerAuth"]; !ok {
		t.Fatal("no bearerAuth security scheme")
	}
	known := []string{api.RoleMember, api.RolePOS, api.RoleMarketer, api.RoleSupport, api.RoleAdmin}
	for name, op := range specOperations(doc) {
		roles, ok := xRoles(op)
		if !ok || len(roles) == 0 {
			t.Errorf("%s: no x-roles list", name)
			continue
		}
		public := op.Security != nil && len(*op.Security) == 0
		if public {
			if !slices.Equal(roles, []string{"public"}) {
				t.Errorf("%s: needs no authentication, so x-roles should be [public], not %v", name, roles)
			}
			continue
		}
		for _, r := range roles {
			if !slices.Contains(known, r) {
				t.Errorf("%s: x-roles names unknown role %q", name, r)
			}
			if !strings.Contains(op.Description, "`"+r+"`") {
				t.Errorf("%s: description does not name the role `%s`", name, r)
			}
		}
		for _, status := range []int{401, 403} {
			if op.Responses.Status(status) == nil {
				t.Errorf("%s: an authenticated operation must document %d", name, status)
			}
		}
	}
}

func xRoles(op *openapi3.Operation) ([]string, bool) {
	raw, ok := op.Extensions["x-roles"].([]any)
	if !ok {
		return nil, false
	}
	roles := make([]string, 0, len(raw))
	for _, r := range raw {
		s, ok := r.(string)
		if !ok {
			return nil, false
		}
		roles = append(roles, s)
	}
	return roles, true
}

// TestOpenAPIDescribesExactlyTheRoutes: every route the router serves is in the spec, and the spec has nothing else.
func TestOpenAPIDescribesExactlyTheRoutes(t *testing.T) {
	doc, _ := loadSpec(t)
	routes, ok := handlerWithoutBackends().(chi.Routes)
	if !ok {
		t.Fatal("the API's handler is not a chi router")
	}
	served := map[string]bool{}
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		served[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	described := specOperations(doc)
	var missing, extra []string
	for r := range served {
		if described[r] == nil {
			missing = append(missing, r)
		}
	}
	for r := range described {
		if !served[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes served but not in api/openapi.yaml: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("operations in api/openapi.yaml that the router does not serve: %v", extra)
	}
	if len(served) == 0 {
		t.Fatal("walked no routes")
	}
	t.Logf("%d routes served, %d operations described", len(served), len(described))
}

// TestOpenAPIServedAsEmbedded: GET /openapi.yaml serves the file's bytes.
func TestOpenAPIServedAsEmbedded(t *testing.T) {
	_, data := loadSpec(t)
	rec := httptest.NewRecorder()
	handlerWithoutBackends().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi.yaml: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type %q, want application/yaml", ct)
	}
	if !bytes.Equal(rec.Body.Bytes(), data) {
		t.Fatalf("GET /openapi.yaml served %d bytes that differ from api/openapi.yaml (%d bytes)", rec.Body.Len(), len(data))
	}
}

// TestOpenAPIRolesMatchAccess calls every operation with each role and checks that exactly the roles in its x-roles
// get past authorisation (and that the unauthenticated operations need no token). Every answer is also validated
// against the spec by the stack.
func TestOpenAPIRolesMatchAccess(t *testing.T) {
	doc, _ := loadSpec(t)
	// No request limits: a member token calls every operation here, more than its burst; rates are tested apart.
	s := itest.NewStack(t, temporal, itest.Options{Limits: &api.Limits{}})
	id := register(t, s, "roles@example.com")
	other := register(t, s, "roles-other@example.com")
	erased := register(t, s, "roles-erased@example.com")
	tokens := map[string]string{api.RoleMember: s.MemberToken(id)}
	for role, key := range s.Keys {
		tokens[role] = key
	}
	// Operations are called without a body: a role allowed through gets a 400 for a POST, never a 403.
	paths := strings.NewReplacer("{memberId}", id, "{transactionId}", "T-ROLES")
	ops := specOperations(doc)
	// Signing the member out refuses their token from then on: last, but for erasing them, which does as much and
	// more.
	last := func(name string) int {
		switch {
		case name == "DELETE /v1/members/{memberId}":
			return 2
		case strings.HasSuffix(name, "/sign-out"):
			return 1
		}
		return 0
	}
	names := slices.SortedFunc(maps.Keys(ops), func(a, b string) int {
		return cmp.Or(cmp.Compare(last(a), last(b)), strings.Compare(a, b))
	})
	for _, name := range names {
		op := ops[name]
		method, path, _ := strings.Cut(name, " ")
		url := paths.Replace(path)
		roles, _ := xRoles(op)
		if name == "DELETE /v1/members/{memberId}" {
			// Last, after the sign-out refused the member's token: on a member of its own.
			url = strings.ReplaceAll(url, id, erased)
			tokens[api.RoleMember] = s.MemberToken(erased)
		}
		if slices.Equal(roles, []string{"public"}) {
			// A webhook authenticated by its signature answers 403 to a request without one.
			signed := strings.HasPrefix(path, "/v1/webhooks/") && path != "/v1/webhooks/stripe"
			if res := s.Do(method, url, "", nil); res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden && !signed {
				t.Errorf("%s without a token: %d, but it is documented as public", name, res.Status)
			}
			continue
		}
		if res := s.Do(method, url, "", nil); res.Status != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d, want 401", name, res.Status)
		}
		// A member reaches only their own resources: another member's answers 404.
		if slices.Contains(roles, api.RoleMember) && strings.Contains(path, "{memberId}") {
			if res := s.Do(method, strings.ReplaceAll(url, id, other), tokens[api.RoleMember], nil); res.Status != http.StatusNotFound {
				t.Errorf("%s as another member: %d, want 404", name, res.Status)
			}
		}
		// The member first: a key signing the member out would refuse the member's token.
		for _, role := range append([]string{api.RoleMember}, slices.DeleteFunc(slices.Sorted(maps.Keys(tokens)), func(r string) bool { return r == api.RoleMember })...) {
			token := tokens[role]
			res := s.Do(method, url, token, nil)
			allowed := slices.Contains(roles, role)
			if allowed && (res.Status == http.StatusForbidden || res.Status == http.StatusUnauthorized) {
				t.Errorf("%s as %s: %d, but x-roles allows %s: %s", name, role, res.Status, role, res.Body)
			}
			if !allowed && res.Status != http.StatusForbidden {
				t.Errorf("%s as %s: %d, but x-roles does not allow %s, want 403: %s", name, role, res.Status, role, res.Body)
			}
		}
	}
}

// TestOpenAPIAsyncAnswersMatch walks the answers the other tests seldom see — a registration while no worker runs, a
// purchase accepted with 202 then and its pending view, a replayed purchase and a paginated history — so that the stack
// validates each against the spec.
func TestOpenAPIAsyncAnswersMatch(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{NoWorker: true, WaitBudget: 300 * time.Millisecond})
	pos := s.Keys["pos"]

	res := s.Do("POST", "/v1/members/register", pos, map[string]any{
		"email": "later@example.com", "name": "Later", "external_id": "EXT-LATER", "consent": map[string]bool{"sms": true},
	})
	// The member is created in Postgres by the API: registered (201) with no worker running.
	if res.Status != http.StatusCreated {
		t.Fatalf("register without a worker: %d %s", res.Status, res.Body)
	}
	var m member
	res.Decode(t, &m)
	if m.Status != "active" {
		t.Fatalf("registered member: %s", res.Body)
	}
	if res := s.Do("GET", res.Header.Get("Location"), pos, nil); res.Status != http.StatusOK {
		t.Fatalf("member being registered: %d %s", res.Status, res.Body)
	}

	res = s.Do("POST", "/v1/transactions/accrue", pos, purchase("T-ASYNC-1", m.MemberID, 250), "Prefer", "wait=0")
	if res.Status != http.StatusAccepted {
		t.Fatalf("purchase without a worker: %d %s", res.Status, res.Body)
	}
	if res := s.Do("GET", res.Header.Get("Location"), s.Keys["support"], nil); res.Status != http.StatusOK {
		t.Fatalf("pending purchase: %d %s", res.Status, res.Body)
	}

	s.StartWorker()
	eventually(t, 30*time.Second, "the member registered", func() bool {
		return getMember(t, s, m.MemberID, pos).Status == "active"
	})
	body := purchase("T-ASYNC-2", m.MemberID, 1_000)
	// This stack's budget is short on purpose; this purchase may wait (the machine may be busy).
	if res := s.Do("POST", "/v1/transactions/accrue", pos, body, "Prefer", "wait=30"); res.Status != http.StatusCreated {
		t.Fatalf("purchase: %d %s", res.Status, res.Body)
	}
	if res := s.Do("POST", "/v1/transactions/accrue", pos, body); res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replayed purchase: %d %v %s", res.Status, res.Header, res.Body)
	}
	eventually(t, 30*time.Second, "the first purchase accrued", func() bool {
		return s.Do("GET", "/v1/transactions/T-ASYNC-1", pos, nil).Status == http.StatusOK
	})
	res = s.Do("GET", "/v1/members/"+m.MemberID+"/history?limit=1", s.MemberToken(m.MemberID), nil)
	var page struct {
		Items      []json.RawMessage `json:"items"`
		NextCursor string            `json:"next_cursor"`
	}
	res.Decode(t, &page)
	if res.Status != http.StatusOK || len(page.Items) != 1 || page.NextCursor == "" {
		t.Fatalf("first history page: %d %s", res.Status, res.Body)
	}
	res = s.Do("GET", "/v1/members/"+m.MemberID+"/history?limit=1&cursor="+page.NextCursor, s.Keys["admin"], nil)
	if res.Status != http.StatusOK {
		t.Fatalf("second history page: %d %s", res.Status, res.Body)
	}
	if res := s.Do("GET", "/readyz", "", nil); res.Status != http.StatusOK {
		t.Fatalf("readyz: %d %s", res.Status, res.Body)
	}
	if res := s.Do("GET", "/openapi.yaml", "", nil); res.Status != http.StatusOK {
		t.Fatalf("openapi.yaml: %d", res.Status)
	}
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := api.New(api.Config{Store: store.New(nil), Metrics: reg})
	for _, path := range []string{"/healthz", "/healthz", "/v1/members/x"} {
		srv.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, `perkflow_http_requests_total{method="GET",route="/healthz",status="200"} 2`) {
		t.Fatalf("metrics: %d\n%s", rec.Code, body)
	}
	if strings.Contains(body, "/v1/members/x") {
		t.Fatal("metrics are labelled with a raw path")
	}
	// The public port does not serve the metrics: they go to the process's own listener (PERKFLOW_METRICS_ADDR).
	rec = httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("GET /metrics on the API's port: %d, want 404", rec.Code)
	}
}
