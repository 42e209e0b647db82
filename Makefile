# cronless: the commands a developer and CI run. `make test` is the README's
# test command: it installs every tool the tests need, at pinned versions, then
# runs lint and the whole test suite with the race detector.

GO            ?= go
BIN           := $(CURDIR)/bin
STATICCHECK   := $(BIN)/staticcheck-v0.8.2
RIE_VERSION   := v0.0.0-20261030222936-bef5c4ba774d
RIE           := $(BIN)/aws-lambda-rie-$(RIE_VERSION)
NODE_TOOLS    := node_modules/.installed
GOFILES        = $(shell find . -name '*.go' -not -path './node_modules/*' -not -path './.git/*')

.PHONY: all test lint tools demo build bench clean

all: test

## test: lint, then every test with the race detector, stand-ins required
test: lint tools
	CRONLESS_STANDINS=required $(GO) test -race -count=1 ./...

## lint: gofmt, go vet and staticcheck
lint: tools
	@unformatted=$$(gofmt -l $(GOFILES)); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change these files (run gofmt -w):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

## tools: what the checks and tests need, at pinned versions: Go tools in
## ./bin, npm packages (package.json, package-lock.json) in ./node_modules
tools: $(STATICCHECK) $(RIE) $(NODE_TOOLS)

$(STATICCHECK):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	mv $(BIN)/staticcheck $@

$(RIE):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) CGO_ENABLED=0 $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)
	mv $(BIN)/aws-lambda-rie $@
	ln -sf $(notdir $@) $(BIN)/aws-lambda-rie

$(NODE_TOOLS): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

## demo: the whole pipeline on this machine, in seconds
demo:
	$(GO) run ./cmd/cronless demo

## build: the cronless CLI in ./bin
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/cronless ./cmd/cronless

## bench: the Go benchmarks
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf $(BIN) .cronless node_modules build
