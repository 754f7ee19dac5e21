package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/store"
)

func getPage(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}

// TestDocsPageLoadsOnlyTheAPIsOwnFiles: GET /docs renders the OpenAPI document with Redoc served by the API itself,
// under a Content-Security-Policy that allows nothing from elsewhere; each answer has its own nonce.
func TestDocsPageLoadsOnlyTheAPIsOwnFiles(t *testing.T) {
	h := itest.RecordRoutes(api.New(api.Config{Store: store.New(nil)}).Handler())
	rec := getPage(t, h, "/docs")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if regexp.MustCompile(`https?:|\*|'unsafe-`).MatchString(csp) {
		t.Errorf("CSP %q allows another origin or unsafe inline code", csp)
	}
	if other := getPage(t, h, "/docs").Header().Get("Content-Security-Policy"); other == csp {
		t.Error("two answers share a nonce")
	}
	page := rec.Body.String()
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("the page names another origin:\n%s", page)
	}
	scripts := regexp.MustCompile(`<script src="([^"]+)"`).FindAllStringSubmatch(page, -1)
	for _, s := range scripts {
		if !strings.HasPrefix(s[1], "/docs/assets/") {
			t.Errorf("script %s is not served by the API", s[1])
			continue
		}
		if a := getPage(t, h, s[1]); a.Code != http.StatusOK || !strings.HasPrefix(a.Header().Get("Content-Type"), "text/javascript") {
			t.Errorf("GET %s: %d %s", s[1], a.Code, a.Header().Get("Content-Type"))
		}
	}
	// `make docs-ui` (run by make test and make build) puts the pinned Redoc beside init.js.
	if _, err := os.Stat("docsui/redoc.standalone.js"); err == nil {
		if len(scripts) != 2 || !strings.HasSuffix(scripts[0][1], "/redoc.standalone.js") {
			t.Errorf("with Redoc bundled, the page loads %v", scripts)
		}
	} else if !strings.Contains(page, "make docs-ui") || len(scripts) != 0 {
		t.Errorf("without Redoc, the page should say how to bundle it:\n%s", page)
	}
	// The page's own script is always served, bundled Redoc or not.
	if a := getPage(t, h, "/docs/assets/init.js"); a.Code != http.StatusOK || !strings.HasPrefix(a.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("GET /docs/assets/init.js: %d %s", a.Code, a.Header().Get("Content-Type"))
	}
	if a := getPage(t, h, "/docs/assets/..%2fdocs.go"); a.Code != http.StatusNotFound {
		t.Errorf("a file outside the assets: %d", a.Code)
	}
}

// TestProblemTypesResolveToTheirDescription: the type of a problem the API answers is an anchor of /docs/problems,
// which describes it.
func TestProblemTypesResolveToTheirDescription(t *testing.T) {
	h := itest.RecordRoutes(api.New(api.Config{Store: store.New(nil)}).Handler())
	rec := getPage(t, h, "/no/such/route")
	var p api.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusNotFound {
		t.Fatalf("404: %d %s", rec.Code, rec.Body)
	}
	page, anchor, ok := strings.Cut(p.Type, "#")
	if !ok || page != "/docs/problems" || anchor != "not-found" {
		t.Fatalf("problem type %q, want /docs/problems#not-found", p.Type)
	}
	doc := getPage(t, h, page)
	if doc.Code != http.StatusOK || !strings.Contains(doc.Body.String(), `<section id="not-found">`) {
		t.Fatalf("GET %s: %d, no anchor %q", page, doc.Code, anchor)
	}
	if !strings.Contains(doc.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Error("the problems page has no CSP")
	}
}
