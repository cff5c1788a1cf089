# sfconn-operator. `make help` lists the targets.

K8S_VERSION ?= 1.37.2
ETCD_VERSION ?= 3.6.16
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v4.3.1

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
HELM_BIN ?= $(LOCALBIN)/helm-$(HELM_VERSION)
K8S_BIN ?= $(LOCALBIN)/k8s/$(K8S_VERSION)

IMG ?= ghcr.io/sfconn/sfconn-operator:dev
# test/ is a Go module of its own (github.com/sfconn/sfconn-operator/test, replacing the
# operator's module with ../), so that the dependencies of the tests and the benchmark
# harness (gonum plot, gopher-lua) stay out of the operator's go.mod. `./...` in the root
# does not reach into it: the Go targets below run in both modules.
TEST_MODULE := test
GO_TEST_FLAGS ?= -race -count=1
export KUBEBUILDER_ASSETS := $(K8S_BIN)
# test/install renders the Helm chart with this helm binary.
export HELM := $(HELM_BIN)

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

# controller-gen writes the roles of all +kubebuilder:rbac markers into one file. The rules of
# rollout restarts (roleName=rollout-restart-role) go to config/rollout-restarts, apart from
# config/rbac/role.yaml, since they are granted only where restarts are turned on.
.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD and RBAC manifests from the API types and markers, and copy them into the Helm chart.
	tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config="$$tmp"; \
	hack/split-roles.sh "$$tmp/role.yaml" manager-role=config/rbac/role.yaml rollout-restart-role=config/rollout-restarts/role.yaml
	@$(MAKE) --no-print-directory sync-chart

CHART_DIR ?= charts/sfconn-operator

# The chart cannot read files outside its directory, so it keeps copies; test/install fails
# when they drift from the originals.
.PHONY: sync-chart
sync-chart: ## Copy the CRD, the manager's RBAC rules, the alerts and the Grafana dashboard into the Helm chart.
	rm -f $(CHART_DIR)/crds/*.yaml
	cp config/crd/bases/*.yaml $(CHART_DIR)/crds/
	cp config/rbac/role.yaml $(CHART_DIR)/files/manager-role.yaml
	cp config/rollout-restarts/role.yaml $(CHART_DIR)/files/rollout-restart-role.yaml
	cp config/prometheus/prometheus_rule.yaml $(CHART_DIR)/files/prometheus_rule.yaml
	cp config/grafana/sfconn-dashboard.json $(CHART_DIR)/files/sfconn-dashboard.json

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...
	cd $(TEST_MODULE) && go vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Check formatting, go vet and golangci-lint.
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	go vet ./...
	cd $(TEST_MODULE) && go vet ./...
	$(GOLANGCI_LINT) run ./...
	cd $(TEST_MODULE) && $(GOLANGCI_LINT) run ./...

.PHONY: verify
verify: manifests generate build-installer ## Fail when generated files (CRD, RBAC, deepcopy, chart copies, dist/install.yaml) are stale or a go.mod (root or test/) is untidy.
	go mod tidy
	cd $(TEST_MODULE) && go mod tidy
	@git diff --exit-code -- config api charts dist go.mod go.sum $(TEST_MODULE)/go.mod $(TEST_MODULE)/go.sum || { echo "generated files are stale: run make manifests generate build-installer, and go mod tidy in the root and in $(TEST_MODULE)/"; exit 1; }

##@ Test

.PHONY: test
# The envtest suite runs a second time under a login limiter, so the renewal plan and its
# wakes are covered outside make bench.
test: manifests generate control-plane build $(HELM_BIN) ## Run all tests: unit, envtest integration (also under --salesforce-qps), e2e and install artefacts.
	go test $(GO_TEST_FLAGS) ./...
	SFCONN_TEST_SALESFORCE_QPS=20 go test $(GO_TEST_FLAGS) -run TestIntegration ./internal/controller/
	cd $(TEST_MODULE) && go test $(GO_TEST_FLAGS) ./...

.PHONY: test-unit
test-unit: ## Run the unit tests only (no control plane).
	go test $(GO_TEST_FLAGS) -short ./api/... ./internal/...

.PHONY: test-install
test-install: manifests control-plane $(HELM_BIN) ## Run the install tests: Helm chart, config/default, dist/install.yaml, alerts and dashboard.
	cd $(TEST_MODULE) && go test $(GO_TEST_FLAGS) ./install/...

.PHONY: test-e2e
test-e2e: control-plane build ## Run the e2e tests: the built manager and emulator driven by kubectl.
	cd $(TEST_MODULE) && go test $(GO_TEST_FLAGS) -v ./e2e/...

# Flags of test/bench, e.g. BENCH_ARGS="-profile -out /tmp/bench"; BENCH_N=100,1000 sets the
# numbers of connections (default 100,1000,5000). docs/benchmarks.md explains the numbers.
# The harness is built in the test module into BENCH_BIN and run from here, so that relative
# paths in BENCH_ARGS (-out, -work, -replot) are relative to the repository root.
BENCH_ARGS ?=
BENCH_BIN ?= $(LOCALBIN)/sfconn-bench
.PHONY: bench
bench: control-plane build ## Benchmark the built manager at N connections (BENCH_N, BENCH_ARGS): time to Ready, logins, API writes, restart, memory, expiry.
	cd $(TEST_MODULE) && go build -o $(BENCH_BIN) ./bench
	$(BENCH_BIN) $(BENCH_ARGS)

.PHONY: bench-smoke
bench-smoke: control-plane build ## Benchmark in smoke mode for CI: N=50, short phases, fails only on counts (logins, writes at rest), never on times.
	cd $(TEST_MODULE) && go build -o $(BENCH_BIN) ./bench
	$(BENCH_BIN) -smoke $(BENCH_ARGS)

FUZZTIME ?= 30s
.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each; new failing inputs land in testdata/fuzz (the committed corpus runs in make test).
	@for spec in ./internal/loginhost:FuzzCheck ./internal/salesforce:FuzzParseTokenAnswer ./internal/salesforce:FuzzParseIdentityURL \
		./internal/salesforce:FuzzParseRSAPrivateKey ./internal/salesforce:FuzzParseDeviceAnswer ./internal/salesforce:FuzzParseUserInfo; do \
		pkg=$${spec%%:*}; name=$${spec##*:}; echo "fuzz $$pkg $$name"; \
		go test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

.PHONY: control-plane
control-plane: ## Build (once, cached) kube-apiserver, etcd and kubectl from the Go module proxy.
	K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/control-plane.sh $(K8S_BIN) >/dev/null

##@ Build

.PHONY: build
build: ## Build the manager, the Salesforce emulator, the kubectl plugin and the demo cluster into bin/
	go build -o $(LOCALBIN)/manager ./cmd/manager
	go build -o $(LOCALBIN)/salesforce-emulator ./cmd/salesforce-emulator
	go build -o $(LOCALBIN)/kubectl-sfconn ./cmd/kubectl-sfconn
	go build -o $(LOCALBIN)/localcluster ./hack/localcluster

.PHONY: run
run: manifests generate ## Run the manager against the cluster of the current kubeconfig.
	go run ./cmd/manager

.PHONY: demo
demo: control-plane build ## Run the whole thing locally: control plane, emulator, operator, a sample connection (DEMO_EXIT=1 stops after the first renewal).
	hack/demo.sh

##@ Deployment

.PHONY: build-installer
build-installer: manifests $(KUSTOMIZE) ## Write dist/install.yaml (config/default in one file) with the image IMG.
	@mkdir -p dist
	@tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	cp -R config "$$tmp/config"; \
	(cd "$$tmp/config/manager" && $(KUSTOMIZE) edit set image controller=$(IMG)); \
	{ echo "# sfconn-operator: everything config/default installs, with the image $(IMG)."; \
	  echo "# Generated by make build-installer; do not edit."; \
	  $(KUSTOMIZE) build "$$tmp/config/default"; } > "$$tmp/install.yaml"; \
	mv "$$tmp/install.yaml" dist/install.yaml
	@echo "wrote dist/install.yaml with $(IMG)"

.PHONY: install
install: manifests $(KUSTOMIZE) ## Install the CRD into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | kubectl apply -f -

.PHONY: deploy
deploy: manifests $(KUSTOMIZE) ## Deploy the operator into the cluster of the current kubeconfig.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | kubectl apply -f -

##@ Tools

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

$(CONTROLLER_GEN): | $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

$(KUSTOMIZE): | $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

$(GOLANGCI_LINT): | $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

# helm is a tool only, built from the module proxy (about 2 minutes the first time); it is not
# a dependency of the operator's go.mod.
$(HELM_BIN): | $(LOCALBIN)
	$(call go-install-tool,$(HELM_BIN),helm.sh/helm/v4/cmd/helm,$(HELM_VERSION))

.PHONY: helm
helm: $(HELM_BIN) ## Install the pinned helm into bin/.

.PHONY: tools
tools: $(CONTROLLER_GEN) $(KUSTOMIZE) $(GOLANGCI_LINT) $(HELM_BIN) ## Install the pinned build tools into bin/.

# go-install-tool installs package $(2) at version $(3) as $(1), so several versions can live
# side by side and a version bump in this file takes effect at once.
define go-install-tool
@[ -f "$(1)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Installing $${package}" ;\
rm -f $(1) || true ;\
GOBIN=$(LOCALBIN) go install $${package} ;\
mv $(LOCALBIN)/$$(basename "$$(echo "$(2)" | sed 's:/v[0-9]*$$::')") $(1) ;\
}
endef
