package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/store"
)

// TestServeAsKeepsTheAccessRules: a request served in process as a principal goes through the route's access rule
// like any other (a support key cannot list API keys), and an HTTP request cannot pass itself off as one.
func TestServeAsKeepsTheAccessRules(t *testing.T) {
	srv := api.New(api.Config{Store: store.New(nil)})
	rec := httptest.NewRecorder()
	srv.ServeAs(api.Principal{Role: api.RoleSupport, KeyName: "console-support"}, rec, httptest.NewRequest("GET", "/v1/api-keys", nil))
	if rec.Code != http.StatusForbidden {
		t.Fatalf("support listing API keys in process: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/api-keys", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("the same request over HTTP without a token: %d", rec.Code)
	}
}
