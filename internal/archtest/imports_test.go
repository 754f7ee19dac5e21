package archtest

import (
	"slices"
	"strings"
	"testing"
)

// mayImport is the rule of docs/architecture.md ("Packages and what each may import"): the perkflow packages the
// non-test code of each package may import. A package is ruled by the entry it is or lies under (the longest), and
// may always import its own subpackages. A package that no entry rules fails the test: give it a line here and in
// docs/architecture.md.
var mayImport = map[string][]string{
	"domain":              nil,
	"migrations":          nil,
	"internal/config":     nil,
	"internal/version":    nil,
	"internal/stripemock": nil,
	"internal/metrics":    nil,
	"internal/telemetry":  nil,
	"devenv":              nil,
	"deploy":              nil,
	"privacy":             {"domain"},
	"internal/webui":      {"api", "domain"},
	"store":               {"domain", "internal/metrics"},
	"workflows":           {"domain", "privacy"},
	"activities":          {"domain", "internal/metrics", "privacy", "store"},
	"api":                 {"domain", "internal/metrics", "privacy", "store", "workflows"},
	"console":             {"api", "domain", "internal/webui", "store", "workflows"},
	"memberapp":           {"activities", "api", "domain", "internal/webui", "store"},
	"worker":              {"activities", "domain", "workflows"},
	"bench":               {"api", "devenv", "domain", "internal/stripemock", "migrations", "privacy", "store", "worker", "workflows"},
	"cmd": {"activities", "api", "bench", "console", "devenv", "domain", "internal/config", "internal/metrics", "internal/telemetry",
		"internal/version", "memberapp", "migrations", "privacy", "store", "worker", "workflows"},
	"internal/testkit": {"activities", "api", "domain", "internal/metrics", "internal/stripemock", "internal/telemetry",
		"migrations", "privacy", "store", "worker", "workflows"},
	"internal/archtest": nil,
}

// testSupport are the folders whose packages exist for tests only; production packages never depend on them.
var testSupport = []string{"internal/testkit", "internal/archtest"}

// harnesses are packages made for tests that no production package may import.
var harnesses = []string{"testing", "net/http/httptest", "go.temporal.io/server/temporaltest", "go.temporal.io/sdk/testsuite"}

// devOnly are what the production binary (go build -tags nodev ./cmd/perkflow) must not link: perkflow dev's
// embedded Temporal server and UI, and the bench with its load generator and its stripe-mock runner.
var devOnly = []string{"go.temporal.io/server", "github.com/temporalio/ui-server", module + "/devenv", module + "/bench",
	module + "/internal/stripemock", "github.com/tsenart/vegeta"}

// rule returns the mayImport entry ruling path.
func rule(path string) (string, bool) {
	best := ""
	for k := range mayImport {
		if under(path, k) && len(k) > len(best) {
			best = k
		}
	}
	return best, best != ""
}

func isTestSupport(path string) bool {
	return slices.ContainsFunc(testSupport, func(d string) bool { return under(path, d) })
}

// TestImportsFollowTheRules holds every package to the table of what it may import, in both builds.
func TestImportsFollowTheRules(t *testing.T) {
	for _, tags := range []string{"", "nodev"} {
		for _, p := range goList(t, tags) {
			k, ok := rule(p.Path)
			if !ok {
				t.Errorf("%s has no rule of what it may import: add it to mayImport and to docs/architecture.md", p.Path)
				continue
			}
			for _, imp := range p.Ours {
				allowed := under(imp, k) || slices.ContainsFunc(mayImport[k], func(a string) bool { return under(imp, a) })
				if !allowed {
					t.Errorf("%s imports %s (tags %q); the rules (internal/archtest, docs/architecture.md) let %s import only %s",
						p.Path, imp, tags, k, orNothing(mayImport[k]))
				}
			}
		}
	}
}

func orNothing(s []string) string {
	if len(s) == 0 {
		return "the standard library and third-party modules, no perkflow package"
	}
	return strings.Join(s, ", ")
}

// TestDomainIsPureAndWorkflowsHoldNoIO: domain imports the standard library only, and workflows the standard
// library, domain and the Temporal SDK only, so that neither reaches a database, a network client or a provider SDK.
func TestDomainIsPureAndWorkflowsHoldNoIO(t *testing.T) {
	for _, p := range goList(t, "") {
		switch {
		case under(p.Path, "domain"):
			for _, imp := range p.OtherDeps {
				if !isStdlib(imp) {
					t.Errorf("%s depends on %s; domain is pure Go on the standard library", p.Path, imp)
				}
			}
		case under(p.Path, "workflows"):
			for _, imp := range p.Others {
				if !isStdlib(imp) && !under(imp, "go.temporal.io/sdk") && !under(imp, "go.temporal.io/api") {
					t.Errorf("%s imports %s; workflows import only the standard library, domain and the Temporal SDK "+
						"(every effect goes through an activity)", p.Path, imp)
				}
			}
		}
	}
}

// TestNoProductionPackageImportsATestHarness: no package outside internal/testkit and internal/archtest depends on
// them (directly or not), or imports the testing package, httptest or an in-process Temporal server; the tests of
// any package may.
func TestNoProductionPackageImportsATestHarness(t *testing.T) {
	for _, tags := range []string{"", "nodev"} {
		for _, p := range goList(t, tags) {
			if isTestSupport(p.Path) {
				continue
			}
			for _, d := range p.Deps {
				if isTestSupport(d) {
					t.Errorf("production package %s depends on the test harness %s (tags %q)", p.Path, d, tags)
				}
			}
			for _, imp := range p.Others {
				if slices.ContainsFunc(harnesses, func(h string) bool { return under(imp, h) }) {
					t.Errorf("production package %s imports %s (tags %q); test support belongs in internal/testkit", p.Path, imp, tags)
				}
			}
		}
	}
}

// TestProductionBinaryLeavesOutTheDevTools: the binary built with -tags nodev (the Dockerfile's, make build-prod)
// links neither the embedded Temporal server and UI nor the bench; the default build links both, which shows the
// check looks at the right binary.
func TestProductionBinaryLeavesOutTheDevTools(t *testing.T) {
	linked := func(tags string) []string {
		for _, p := range goList(t, tags) {
			if p.Path == "cmd/perkflow" {
				all := slices.Clone(p.OtherDeps)
				for _, d := range p.Deps {
					all = append(all, module+"/"+d)
				}
				return all
			}
		}
		t.Fatalf("go list -tags %q has no cmd/perkflow", tags)
		return nil
	}
	links := func(deps []string, prefix string) bool {
		return slices.ContainsFunc(deps, func(d string) bool { return under(d, prefix) })
	}
	prod, dev := linked("nodev"), linked("")
	for _, d := range devOnly {
		if links(prod, d) {
			t.Errorf("the production build (-tags nodev) of cmd/perkflow links %s", d)
		}
	}
	for _, d := range []string{module + "/api", module + "/worker", module + "/migrations"} {
		if !links(prod, d) {
			t.Errorf("the production build of cmd/perkflow does not link %s: is this the right binary?", d)
		}
	}
	for _, d := range []string{module + "/devenv", module + "/bench", "go.temporal.io/server"} {
		if !links(dev, d) {
			t.Errorf("the default build of cmd/perkflow does not link %s: perkflow dev and perkflow bench need it", d)
		}
	}
}
