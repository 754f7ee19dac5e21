# perkflow — the two commands a newcomer needs are `make dev` and `make test`.
SHELL := /bin/bash
export GOTOOLCHAIN := local

GO        ?= go
BIN       := $(CURDIR)/bin
PKGS      := ./...
# Pinned tool versions that build with this machine's Go.
WORKFLOWCHECK_VERSION := v0.6.0
STATICCHECK_VERSION   := v0.8.2
STRIPE_MOCK_VERSION   := v0.203.0
HELM_VERSION          := v3.19.5
PROMTOOL_VERSION      := v0.316.0

.PHONY: dev test test-short lint vet fmt build build-prod bench tools clean fuzz docs-ui chaos chaos-short

## dev: run everything in one process (embedded Temporal + UI, worker, API, demo program)
dev:
	@$(MAKE) --no-print-directory docs-ui || echo "GET /docs will not render the API reference: npm is needed to fetch Redoc"
	$(GO) run ./cmd/perkflow dev

## test: vet, lint workflows for determinism, run every test with the race detector, then the short fault suite on
## its own, then a short fuzz pass
test: docs-ui vet lint $(BIN)/stripe-mock
	$(GO) test -race -count=1 -timeout 30m -skip '^TestChaosShort$$' $(PKGS)
	$(MAKE) --no-print-directory chaos-short
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(CI_FUZZTIME)

# The short fault suite (the worker killed under load) runs alone: its Temporal server, API and worker are three
# race-built processes, and beside the api package's tests (an in-process Temporal, also race-built) on two cores the
# API's Temporal calls missed their deadline for whole phases, so the suite measured the machine's load, not the fault.
chaos-short:
	$(GO) test -race -count=1 -timeout 15m -run '^TestChaosShort$$' ./cmd/perkflow

# Fuzz targets (api/fuzz_test.go): JSON bodies thrown at the real API (Postgres, Temporal, worker); no 5xx, nothing
# written when a request is refused. `make fuzz` explores each for FUZZTIME, `make test` for CI_FUZZTIME (which
# includes the ~10 s a target takes to start its stack and replay its corpus). The instrumented test binary is built
# once for all targets. Inputs that fail are saved under api/testdata/fuzz/<target>/: commit them with the fix. A
# target that fails with a bare "context deadline exceeded" and writes no failing input hit a race in Go's fuzzing
# coordinator at the -fuzztime deadline (a loaded machine makes it likelier), not a finding: it runs once more.
FUZZ_TARGETS := FuzzAccrue FuzzRegister FuzzWriteRoutes
FUZZTIME     ?= 1m
CI_FUZZTIME  ?= 15s

## fuzz: run each fuzz target for FUZZTIME (one worker: each runs its own Temporal server and database)
fuzz:
	$(GO) test -c -fuzz=Fuzz -o $(BIN)/api-fuzz.test ./api/
	@cache="$$($(GO) env GOCACHE)/fuzz/github.com/perkflow/perkflow/api"; log="$$(mktemp)"; \
	for target in $(FUZZ_TARGETS); do \
		for attempt in 1 2; do \
			echo "fuzz $$target for $(FUZZTIME)"; \
			before="$$(ls api/testdata/fuzz/$$target 2>/dev/null | wc -l)"; \
			(cd api && $(BIN)/api-fuzz.test -test.run='^$$' -test.fuzz="^$$target$$" -test.fuzztime=$(FUZZTIME) \
				-test.parallel=1 -test.fuzzminimizetime=2s -test.fuzzcachedir="$$cache") > "$$log" 2>&1; rc=$$?; \
			cat "$$log"; \
			[ $$rc -eq 0 ] && break; \
			after="$$(ls api/testdata/fuzz/$$target 2>/dev/null | wc -l)"; \
			if [ $$attempt -eq 1 ] && [ "$$after" = "$$before" ] && tail -n 4 "$$log" | grep -qx '    context deadline exceeded'; then \
				echo "fuzz $$target: stopped by Go's fuzzing deadline race, no failing input written; once more"; \
				continue; \
			fi; \
			rm -f "$$log"; exit 1; \
		done; \
	done; rm -f "$$log"

## test-short: unit tests only (no Postgres, no Temporal server)
test-short:
	$(GO) test -short -count=1 ./domain/... ./workflows/...

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags nodev ./cmd/perkflow

# What the production binary (-tags nodev) must not link: the embedded Temporal server and UI of perkflow dev, and
# the bench with its load generator.
DEV_ONLY_DEPS := go.temporal.io/server github.com/temporalio/ui-server github.com/perkflow/perkflow/devenv \
	github.com/perkflow/perkflow/bench github.com/perkflow/perkflow/internal/stripemock github.com/tsenart/vegeta
TESTKIT := github.com/perkflow/perkflow/internal/testkit

CHART        := deploy/helm/perkflow
CHART_VALUES := $(wildcard $(CHART)/ci/*-values.yaml)

## lint: workflowcheck (determinism) and staticcheck; the production build links no dev-only package, and no
## production package imports a test harness (internal/testkit); internal/archtest checks the same and more in Go.
## The Helm chart lints and renders with each of its ci/ values; the alert rules parse and pass their unit tests.
lint: tools
	$(BIN)/workflowcheck ./workflows/...
	$(BIN)/staticcheck $(PKGS)
	@for v in $(CHART_VALUES); do \
		$(BIN)/helm lint --strict $(CHART) -f $$v >/dev/null || exit 1; \
		$(BIN)/helm template perkflow $(CHART) -f $$v >/dev/null || exit 1; \
	done; echo "helm lint and template: $(CHART) with $(notdir $(CHART_VALUES))"
	$(BIN)/promtool check rules deploy/prometheus/alerts.yml
	cd deploy/prometheus && $(BIN)/promtool test rules alerts_test.yml
	@deps=$$($(GO) list -deps -tags nodev ./cmd/perkflow) || exit 1; \
	for p in $(DEV_ONLY_DEPS); do \
		if grep -q "^$$p\(/\|$$\)" <<<"$$deps"; then echo "the nodev (production) build links $$p"; exit 1; fi; \
	done
	@for tags in "" nodev; do \
		edges=$$($(GO) list -tags "$$tags" -f '{{$$p := .ImportPath}}{{range .Deps}}{{$$p}} {{.}}{{"\n"}}{{end}}' $(PKGS)) || exit 1; \
		bad=$$(awk -v kit="$(TESTKIT)" 'index($$1, kit) != 1 && index($$2, kit) == 1' <<<"$$edges"); \
		if [ -n "$$bad" ]; then echo "production packages depend on test harnesses (tags \"$$tags\"):"; echo "$$bad"; exit 1; fi; \
	done

tools: $(BIN)/workflowcheck $(BIN)/staticcheck $(BIN)/helm $(BIN)/promtool

$(BIN)/workflowcheck:
	GOBIN=$(BIN) $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)

$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# helm is not packaged by Debian 12: built from its module (a few minutes, once). deploy/helm_test.go uses it too.
$(BIN)/helm:
	GOBIN=$(BIN) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

# promtool parses and unit-tests the alert rules (deploy/prometheus).
$(BIN)/promtool:
	GOBIN=$(BIN) $(GO) install github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION)

# stripe-mock answers as the Stripe API does; the redemption tests start it themselves on a free port.
$(BIN)/stripe-mock:
	GOBIN=$(BIN) $(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)

fmt:
	gofmt -w $$(git ls-files '*.go')

## docs-ui: fetch Redoc from npm (pinned, integrity-checked) into api/docsui/ so that GET /docs renders the OpenAPI document
docs-ui: api/docsui/redoc.standalone.js

# The version and integrity are pinned in the script; the bundle is embedded by the API, never committed.
api/docsui/redoc.standalone.js: api/docsui/fetch-redoc.sh
	sh api/docsui/fetch-redoc.sh api/docsui

## bench: measure accrual against the Temporal and Postgres floors, reads, memory and the history bound on a stack
## of its own (about ten minutes); BENCH_FLAGS adds flags (see go run ./cmd/perkflow bench -h), BENCHMARKS.md has figures
BENCH_FLAGS ?=
bench:
	$(GO) run ./cmd/perkflow bench --duration 10s --step 3s --retries 1 $(BENCH_FLAGS)

## chaos: the fault suite (a few minutes): Temporal, API and worker as processes over a throwaway Postgres cluster,
## a purchase load, kill -9 of each and Postgres stopped and started; prints a table (docs/operations.md)
chaos: build
	PERKFLOW_CHAOS=1 PERKFLOW_TEST_BINARY=$(BIN)/perkflow $(GO) test -count=1 -timeout 30m -run '^TestChaos$$' -v ./cmd/perkflow

## build: the dev binary (includes `perkflow dev`); build-prod: the production binary without the Temporal server
build: docs-ui
	$(GO) build -o $(BIN)/perkflow ./cmd/perkflow

build-prod: docs-ui
	CGO_ENABLED=0 $(GO) build -tags nodev -trimpath -o $(BIN)/perkflow-prod ./cmd/perkflow

clean:
	rm -rf $(BIN)
