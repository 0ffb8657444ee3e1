# gatewarden developer entry points. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -o errexit -o nounset -o pipefail -c
GO ?= go
BIN := bin
# Nested modules that keep heavy tool dependencies out of the main module.
NESTED := $(sort $(dir $(wildcard hack/*/go.mod)))

.PHONY: help build test test-unit test-nested lint docs run images bench fuzz clean kind-up kind-down e2e-kind helm-lint chart-docs

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build authproxy, catalog, inventory and the dev IdP into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./authproxy ./services/catalog ./services/inventory ./hack/devidp/cmd/devidp

test: ## run every test (installs redis-server, nginx, caddy, chromium, postgresql with apt when missing and root)
	hack/test.sh

test-unit: ## root module tests only (race detector on)
	$(GO) test -race -count=1 ./...

test-nested: ## tests of the nested modules under hack/
	@for m in $(NESTED); do echo "== $$m"; (cd $$m && $(GO) test -count=1 ./...); done

lint: ## gofmt, go vet, and golangci-lint when installed
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	@if command -v golangci-lint >/dev/null; then golangci-lint run ./...; else echo "golangci-lint not installed; skipped"; fi

# The packages whose tests check README.md's option tables (TestREADMETable).
DOCS_PKGS := ./authproxy/internal/config ./services/internal/svcconfig ./hack/devidp/cmd/devidp

docs: chart-docs ## rewrite README.md's option tables from the code and the chart's values table (tests fail when they drift)
	$(GO) test -p 1 -count=1 -run '^TestREADMETable$$' $(DOCS_PKGS) -args -update-docs

run: ## run the whole system locally (dev IdP, Redis, authproxy, catalog, inventory, Caddy)
	cd hack/stack && $(GO) run ./cmd/gatewarden-local

images: ## build the three container images (needs a Docker engine)
	docker build -f authproxy/Dockerfile -t gatewarden/authproxy:dev .
	docker build -f services/catalog/Dockerfile -t gatewarden/catalog:dev .
	docker build -f services/inventory/Dockerfile -t gatewarden/inventory:dev .

bench: ## hot-path benchmarks (needs redis-server on PATH)
	$(GO) test -run '^$$' -bench . -benchmem ./services/shared/jwtauth/ ./services/catalog/... ./authproxy/...

fuzz: ## a short run of every fuzz target
	hack/fuzz.sh 20s

kind-up: ## create the kind cluster `gatewarden` (needs Docker)
	$(GO) -C hack/kind run . create

kind-down: ## delete the kind cluster
	$(GO) -C hack/kind run . delete

e2e-kind: ## full end-to-end run on kind: cluster, images, FusionAuth, Traefik, chart, checks (needs Docker)
	hack/e2e-kind.sh

helm-lint: ## helm lint and template the chart with every ci values file (needs the helm CLI)
	@for f in charts/gatewarden/ci/*.yaml; do echo "== $$f"; helm lint --strict charts/gatewarden -f "$$f" >/dev/null && helm template t charts/gatewarden -n gw -f "$$f" >/dev/null; done

chart-docs: ## regenerate the values table of charts/gatewarden/README.md from the `# --` comments in values.yaml
	cd hack/charttest && $(GO) run ./cmd/valuesdoc -chart ../../charts/gatewarden

clean: ## remove build output
	rm -rf $(BIN)
