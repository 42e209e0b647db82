# cronless: the commands a developer and CI run. `make test` is the README's
# test command: it installs every tool the tests need, at pinned versions, then
# runs lint and the whole test suite with the race detector.

GO            ?= go
BIN           := $(CURDIR)/bin
STATICCHECK   := $(BIN)/staticcheck-v0.8.2
GOFILES        = $(shell find . -name '*.go' -not -path './node_modules/*' -not -path './.git/*')

.PHONY: all test lint tools demo build bench clean

all: test

## test: lint, then every test with the race detector
test: lint
	$(GO) test -race -count=1 ./...

## lint: gofmt, go vet and staticcheck
lint: tools
	@unformatted=$$(gofmt -l $(GOFILES)); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change these files (run gofmt -w):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

## tools: the Go tools the checks need, at pinned versions, in ./bin
tools: $(STATICCHECK)

$(STATICCHECK):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	mv $(BIN)/staticcheck $@

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
	rm -rf $(BIN) .cronless
