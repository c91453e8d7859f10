# The identification admin API. `make run` and `make test` install what they
# need (Go modules, the pinned local DynamoDB engines) on first use.
SHELL := /bin/bash
GO ?= go
ORG ?= acme
SCOPES ?= identifications/admin
SUB ?= dev-admin
TTL ?= 24h
ENGINES := tools/node_modules/.installed
OPENAPI_LINTERS := tools/openapi/node_modules/.installed
# The benchmark's own module (see bench).
BENCH_MODULE := cmd/bench

.PHONY: run test vet token sweep deps tools clean lint-openapi

## run: the dev server on a local dynoxide it starts itself (ADDR, DYNAMODB_ENDPOINT)
# Built, then exec'd rather than `go run`: on SIGTERM make signals only its
# own child, and `go run` dies of it without passing it on, leaving the
# server and its engine holding the port. Exec'd, the server is make's child
# and shuts down gracefully, engine included.
DEVSERVER ?= .build/devserver
run: deps $(ENGINES)
	$(GO) build -o $(DEVSERVER) ./cmd/devserver
	exec $(DEVSERVER)

## test: vet, cfn-lint (make validate), the OpenAPI linters (make lint-openapi), unit tests, store and HTTP suites on both engines (with -race), smoke test; then the benchmark module's own tests
test: deps $(ENGINES) vet validate lint-openapi
	$(GO) run ./cmd/withengines -- $(GO) test -race -count=1 -timeout 15m ./...
	$(GO) -C $(BENCH_MODULE) test -race -count=1 ./...

vet:
	$(GO) vet ./...
	$(GO) -C $(BENCH_MODULE) vet ./...

## token: print a dev-server token as the last line (ORG, SCOPES, SUB, TTL)
token: deps
	@$(GO) run ./cmd/token -org "$(ORG)" -scopes "$(SCOPES)" -sub "$(SUB)" -ttl "$(TTL)"

## sweep: one expiry pass against the local engine; prints expired=<n> ...
sweep: deps $(ENGINES)
	@$(GO) run ./cmd/sweep

deps:
	@$(GO) mod download
	@$(GO) -C $(BENCH_MODULE) mod download

tools: $(ENGINES)

$(ENGINES): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund
	@touch $@

## lint-openapi: Redocly (recommended rules, each finding an error) and Spectral (spectral:oas, failing on a warning) on docs/openapi.yaml
lint-openapi: $(OPENAPI_LINTERS)
	cd tools/openapi && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true ./node_modules/.bin/redocly lint --config redocly.yaml --format stylish ../../docs/openapi.yaml
	cd tools/openapi && ./node_modules/.bin/spectral lint --ruleset .spectral.yaml --fail-severity warn ../../docs/openapi.yaml

$(OPENAPI_LINTERS): tools/openapi/package.json tools/openapi/package-lock.json
	cd tools/openapi && npm ci --no-audit --no-fund
	@touch $@

clean:
	rm -rf .build .local/bench

# --- Lambda functions and deployment (AWS SAM) ---------------------------------
# `make lambdas` needs only Go and `make validate` only cfn-lint; build, deploy
# and invoke wrap the SAM CLI (invoke also needs Docker). See README, "Deployment".
ARCH ?= arm64
SAM ?= sam
FN ?=
ENV_VARS ?=
DEPLOY_FLAGS ?=
FUNCTIONS := $(patsubst functions/%/main.go,%,$(wildcard functions/*/main.go))
BOOTSTRAPS := $(FUNCTIONS:%=.build/%/bootstrap)
# How every bootstrap is built; internal/lambdabaseline's size test uses the same flags.
LAMBDA_BUILD = CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build -trimpath -tags lambda.norpc -ldflags="-s -w"
# The same for SAM's Go builder, which runs `go build -trimpath` (TrimGoPath in
# the template) with our environment: -s implies -w, GOFLAGS values cannot hold spaces.
SAM_GO_ENV = CGO_ENABLED=0 GOFLAGS="$$($(GO) env GOFLAGS) -tags=lambda.norpc -ldflags=-s"
# logical_id maps a function name to its logical id in template.yaml: create-otp -> CreateOtpFunction.
logical_id = $(shell echo '$(1)' | awk -F- '{for (i = 1; i <= NF; i++) printf "%s%s", toupper(substr($$i, 1, 1)), substr($$i, 2)} END {print "Function"}')

.PHONY: lambdas lambda-arch build validate deploy invoke sam-cli FORCE

## lambdas: every function's bootstrap in .build/<name>/bootstrap, no SAM needed (ARCH=arm64|amd64)
lambdas: $(BOOTSTRAPS)
	@ls -l $(BOOTSTRAPS) | awk '{printf "%10d  %s\n", $$5, $$NF}'

.build/%/bootstrap: FORCE | deps lambda-arch
	$(LAMBDA_BUILD) -o $@ ./functions/$*

lambda-arch:
	@case "$(ARCH)" in arm64|amd64) ;; *) echo "ARCH must be arm64 or amd64, not '$(ARCH)'" >&2; exit 2 ;; esac

FORCE:

## build: sam build (all functions, built as by `make lambdas`, into .aws-sam/build)
build: sam-cli
	$(SAM_GO_ENV) $(SAM) build

# cfn-lint (pip install cfn-lint), which `make validate` runs: CFN_LINT if set,
# else the one on PATH, else one pip --user or pyenv installed. Exported, so that
# the Go test linting template.yaml (internal/samtemplate) runs the same one.
ifeq ($(origin CFN_LINT),undefined)
CFN_LINT := $(firstword $(shell command -v cfn-lint 2>/dev/null) $(wildcard $(HOME)/.local/bin/cfn-lint $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/*/bin/cfn-lint))
endif
export CFN_LINT
CFN_LINT_REGIONS ?= us-east-1 eu-west-1

## validate: cfn-lint on template.yaml (SAM transform included, informational rules too) for CFN_LINT_REGIONS; no SAM CLI needed
validate:
	@command -v "$(CFN_LINT)" >/dev/null 2>&1 || { \
		echo "make: cfn-lint is not installed (not on PATH, nor in ~/.local/bin or pyenv's versions); it lints template.yaml." >&2; \
		echo "      Install it with: pip install cfn-lint   (or run make CFN_LINT=/path/to/cfn-lint ...)" >&2; \
		exit 127; }
	$(CFN_LINT) --regions $(CFN_LINT_REGIONS) --include-checks I -- template.yaml

## deploy: sam build, then sam deploy (the first time: make deploy DEPLOY_FLAGS=--guided)
deploy: build
	$(SAM) deploy $(DEPLOY_FLAGS)

## invoke: build function FN and run it on events/FN.json in Docker (FN=get-otp; ENV_VARS=env.json overrides its environment)
invoke: sam-cli
	@test -n "$(FN)" -a -f "events/$(FN).json" || { echo "usage: make invoke FN=<name>, one of: $(FUNCTIONS)" >&2; exit 2; }
	$(SAM_GO_ENV) $(SAM) build $(call logical_id,$(FN))
	$(SAM) local invoke $(call logical_id,$(FN)) -e events/$(FN).json $(if $(ENV_VARS),--env-vars $(ENV_VARS))

sam-cli:
	@command -v $(SAM) >/dev/null 2>&1 || { \
		echo "make: '$(SAM)', the AWS SAM CLI, is not installed (or not on PATH); it is needed to build, validate, deploy and invoke with SAM." >&2; \
		echo "      Install it (README, Deployment), or run 'make lambdas' to build the functions with Go alone." >&2; \
		exit 127; }

# --- Benchmarks ------------------------------------------------------------------
.PHONY: bench

## bench: each function against a baseline making the same DynamoDB calls, delivery, stream and sweep against the raw engine (not part of make test; < 10 min; BENCH_FLAGS, e.g. -h)
# cmd/bench is a module of its own (go.mod replacing github.com/idadmin/api
# with this tree), so that the functions' module does not require its charts
# (gonum); it finds the repository from there (localengine.RepoRoot).
BENCH_FLAGS ?=
bench: deps $(ENGINES)
	$(GO) -C $(BENCH_MODULE) run . $(BENCH_FLAGS)

# --- Hostile conditions: fuzzing and soak (not part of make test) --------------
FUZZTIME ?= 60s
# Minimising a new corpus entry is capped in executions rather than time, so
# each target spends its FUZZTIME fuzzing.
FUZZMINIMIZETIME ?= 1000x
FUZZ_TARGETS := \
	shared/httpapi:FuzzParseCreateOTP \
	shared/httpapi:FuzzParseCreateChain \
	shared/httpapi:FuzzParseCancel \
	shared/httpapi:FuzzParseValidation \
	shared/httpapi:FuzzParseAgentResult \
	shared/identification:FuzzParseExpiresIn \
	shared/identification:FuzzIsEmail \
	shared/identification:FuzzISOShape \
	shared/httpapi:FuzzBodies \
	shared/httpapi:FuzzPathAndQuery \
	shared/httpapi:FuzzParameterChecks \
	shared/httpapi:FuzzDeviceHeaders
SOAK_DURATION ?= 60s
SOAK_CONCURRENCY ?= 32

.PHONY: fuzz soak

## fuzz: each fuzz target for FUZZTIME (60s), one after the other; finds land in testdata/fuzz
fuzz: deps
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$fn (./$$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./$$pkg; \
	done

## soak: SOAK_DURATION (60s) of mixed load from SOAK_CONCURRENCY (32) clients on a dev server: no 5xx, no lost or phantom updates
soak: deps $(ENGINES)
	$(GO) run ./cmd/soak -duration $(SOAK_DURATION) -concurrency $(SOAK_CONCURRENCY)

# --- Documentation ---------------------------------------------------------------
.PHONY: docs

## docs: regenerate the lifecycle picture in docs/lifecycle.md from identification.Lifecycle (a test fails when it is stale)
docs: deps
	$(GO) generate ./docs
