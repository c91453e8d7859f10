# The identification admin API. `make run` and `make test` install what they
# need (Go modules, the pinned local DynamoDB engines) on first use.
SHELL := /bin/bash
GO ?= go
ORG ?= acme
SCOPES ?= identifications/admin
ENGINES := tools/node_modules/.installed

.PHONY: run test vet token deps tools clean

## run: the dev server on a local dynoxide it starts itself (ADDR, DYNAMODB_ENDPOINT)
run: deps $(ENGINES)
	$(GO) run ./cmd/devserver

## test: vet, unit tests, store and HTTP suites on both engines (with -race), smoke test
test: deps $(ENGINES) vet
	$(GO) run ./cmd/withengines -- $(GO) test -race -count=1 -timeout 15m ./...

vet:
	$(GO) vet ./...

## token: print a dev-server token as the last line (ORG, SCOPES)
token: deps
	@$(GO) run ./cmd/token -org "$(ORG)" -scopes "$(SCOPES)"

deps:
	@$(GO) mod download

tools: $(ENGINES)

$(ENGINES): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund
	@touch $@

clean:
	rm -rf .build .local/bench
