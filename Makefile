# cronless: the commands a developer and CI run. `make test` is the README's
# test command: it installs every tool the tests need, at pinned versions, then
# runs lint and the whole test suite with the race detector.

GO            ?= go
BIN           := $(CURDIR)/bin
STATICCHECK   := $(BIN)/staticcheck-v0.8.2
RIE_VERSION   := v0.0.0-20261030222936-bef5c4ba774d
RIE           := $(BIN)/aws-lambda-rie-$(RIE_VERSION)
NODE_TOOLS    := node_modules/.installed
# The stand-ins in third_party/ are modules of their own (see go.mod's
# replace lines): ./... does not reach them.
THIRD_PARTY    = google.golang.org/appengine/urlfetch
GOFILES        = $(shell find . -name '*.go' -not -path './node_modules/*' -not -path './.git/*')

.PHONY: all test lint tools python-tools demo build cli schedules deploy deploy-check remove logs deployments rollback bench bench-peers bench-scale reliability clean

all: test

## test: lint, then every test with the race detector, stand-ins required
test: lint tools
	CRONLESS_STANDINS=required $(GO) test -race -count=1 ./... $(THIRD_PARTY)

## reliability: the full fault-injection suite (reliability/, build tag
## reliability) on the local backend and the stand-ins, every fault class at
## size (under 15 min); it writes docs/reliability.md. `make test` runs its
## quick version.
reliability: tools
	CRONLESS_STANDINS=required $(GO) test -tags reliability -count=1 -timeout 15m -v ./reliability/

## lint: gofmt, go vet and staticcheck
lint: tools
	@unformatted=$$(gofmt -l $(GOFILES)); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change these files (run gofmt -w):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./... $(THIRD_PARTY)
	$(STATICCHECK) ./... $(THIRD_PARTY)

## tools: what the checks and tests need, at pinned versions: Go tools in
## ./bin, npm packages (package.json, package-lock.json) in ./node_modules,
## and AWS's CloudFormation linter and the moto emulator in Python
tools: $(STATICCHECK) $(RIE) $(NODE_TOOLS) python-tools

# cfn-lint (AWS's CloudFormation linter) and moto (a second AWS emulator),
# pinned as shared/standin pins them; pip installs them only where this
# Python lacks those versions.
CFN_LINT      := 1.51.0
MOTO          := 5.2.1
PY_CHECK      := import importlib.metadata as m, sys, moto.server; sys.exit(m.version("cfn-lint") != sys.argv[1] or m.version("moto") != sys.argv[2])

python-tools:
	@python3 -c '$(PY_CHECK)' $(CFN_LINT) $(MOTO) 2>/dev/null || \
		python3 -m pip install --quiet 'cfn-lint==$(CFN_LINT)' 'moto[server]==$(MOTO)'

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

# Deployment settings: make deploy STAGE=prod REGION=eu-west-1 PARAMS="--param maxReceiveCount=3"
STAGE         ?= dev
REGION        ?= us-east-1
PARAMS        ?=
FUNCTION      ?= worker
LAMBDAS       := planner worker results
OSLS          := npx --no-install osls
OSLS_ARGS      = --stage $(STAGE) --region $(REGION)
# Files in a zip get this fixed time, so the same code gives the same zip
# (and osls sees no change to deploy).
ZIP_MTIME     := 198001010000
# zip(1) where it is installed, else Python's zipfile; both keep the
# executable bit of bootstrap.
ZIP_TOOL      := $(shell command -v zip 2>/dev/null)
# What goes into a function's zip: bootstrap, and for the planner targets.yaml.
zip_files      = bootstrap $(if $(filter planner,$(1)),targets.yaml)
PY_ZIP        := import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED); [z.write(f, f.rsplit("/", 1)[-1]) for f in sys.argv[2:]]; z.close()

## build: the Lambda artifacts for serverless.yml: build/<fn>.zip for each
## function (a static, stripped linux/arm64 `bootstrap` for provided.al2023;
## the planner's zip also holds targets.yaml) and build/schedules.json
build: schedules $(addprefix build/,$(addsuffix .zip,$(LAMBDAS)))

## cli: the cronless CLI in ./bin
cli:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/cronless ./cmd/cronless

## schedules: build/schedules.json, the planner's schedules from targets.yaml
## (serverless.yml reads it)
schedules:
	@mkdir -p build
	$(GO) run ./cmd/cronless schedules --targets targets.yaml > build/schedules.json.tmp
	mv build/schedules.json.tmp build/schedules.json

# The functions are always rebuilt (Go's cache makes that quick).
build/%.zip: FORCE
	@rm -rf build/$* && mkdir -p build/$*
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags="-s -w" -o build/$*/bootstrap ./functions/$*
	$(if $(filter targets.yaml,$(call zip_files,$*)),cp targets.yaml build/$*/targets.yaml)
	@chmod 0755 build/$*/bootstrap
	@touch -t $(ZIP_MTIME) build/$*/*
	@rm -f build/$*.zip.tmp
ifneq ($(ZIP_TOOL),)
	cd build/$* && $(ZIP_TOOL) -q -X ../$*.zip.tmp $(call zip_files,$*)
else
	python3 -c '$(PY_ZIP)' build/$*.zip.tmp $(addprefix build/$*/,$(call zip_files,$*))
endif
	@mv build/$*.zip.tmp $@

FORCE:

## deploy: build, then deploy the stack of STAGE to REGION with osls
deploy: deploy-check build $(NODE_TOOLS)
	$(OSLS) deploy $(OSLS_ARGS) $(PARAMS)

# The alertEmail of PARAMS ("--param alertEmail=x" or "--param=alertEmail=x"),
# empty when not given.
ALERT_EMAIL    = $(patsubst alertEmail=%,%,$(filter alertEmail=%,$(subst --param=,,$(PARAMS))))

## deploy-check: a stage other than dev must say who its alarms notify
deploy-check:
	@if [ "$(STAGE)" != dev ] && [ -z "$(ALERT_EMAIL)" ]; then \
		echo "make deploy STAGE=$(STAGE): its alarms would notify nobody. Pass the address they e-mail:" >&2; \
		echo "  make deploy STAGE=$(STAGE) PARAMS=\"--param alertEmail=you@example.com\"" >&2; \
		echo "or say that nobody is to be notified: PARAMS=\"--param alertEmail=none\"" >&2; \
		exit 2; \
	fi

## remove: delete the stack of STAGE in REGION: functions, schedules, queues
## (with their messages), alarms and logs. The table (cronless-STAGE-v2)
## stays unless the stage was deployed with retainTable=false, as dev is
## (docs/aws.md, Deletion). So does a schema v1 table (cronless-STAGE), which
## the stack let go of when it moved to v2.
remove: schedules $(NODE_TOOLS)
	$(OSLS) remove $(OSLS_ARGS) $(PARAMS)
	@echo "Removed stage $(STAGE). Its table cronless-$(STAGE)-v2 and its results are kept, unless the stage was"
	@echo "deployed with retainTable=false (dev is): it has DeletionPolicy Retain and deletion protection."
	@echo "A new deploy of stage $(STAGE) fails while the table exists. To delete it on purpose:"
	@echo "  aws dynamodb update-table --region $(REGION) --table-name cronless-$(STAGE)-v2 --no-deletion-protection-enabled"
	@echo "  aws dynamodb delete-table --region $(REGION) --table-name cronless-$(STAGE)-v2"
	@echo "(or, before removing a stage, deploy it with PARAMS=\"--param retainTable=false\" so that remove deletes it)."
	@echo "The schema v1 table cronless-$(STAGE), if the stage had one, left the stack when it moved to v2 and is"
	@echo "kept (deleted on dev), deletion-protected. Once \`cronless migrate\` has copied it, delete it the same way:"
	@echo "  aws dynamodb update-table --region $(REGION) --table-name cronless-$(STAGE) --no-deletion-protection-enabled"
	@echo "  aws dynamodb delete-table --region $(REGION) --table-name cronless-$(STAGE)"

## logs: follow FUNCTION's logs (planner, worker or results) in STAGE
logs: schedules $(NODE_TOOLS)
	$(OSLS) logs --function $(FUNCTION) --tail $(OSLS_ARGS) $(PARAMS)

## deployments: the deployments osls keeps for STAGE in REGION (the newest 5),
## newest first: which one is live, and the commands that roll back
deployments: cli
	$(BIN)/cronless deployments --stage $(STAGE) --region $(REGION)

## rollback: put STAGE back on the deployment before the live one, or on TO
## (a TIMESTAMP of `make deployments`); DRY_RUN=1 only says what it would do.
## It builds and uploads nothing: the stack gets that deployment's template
## and zips. osls loads serverless.yml, which reads build/schedules.json:
## made from targets.yaml only when missing (the schedules deployed are
## the rolled-back deployment's, never this file's).
rollback: cli $(NODE_TOOLS)
	@[ -f build/schedules.json ] || $(MAKE) --no-print-directory schedules
	$(BIN)/cronless rollback --stage $(STAGE) --region $(REGION) $(if $(TO),--to $(TO)) $(if $(DRY_RUN),--dry-run) $(PARAMS)

## bench: the side-by-side benchmarks (bench/suite): cronless against bare
## colly, a hand-written net/http bound, Scrapy and Crawlee (when `make
## bench-peers` installed them), the local pipeline, the Lambda figures under
## aws-lambda-rie and the AWS-side request counts on the stand-ins; rewrites
## docs/benchmarks.md. About 8 minutes.
bench: tools
	$(GO) run ./bench/suite -out docs/benchmarks.md

## bench-scale: plan one tick of 10,000, 100,000 and 1,000,000 stored
## targets on the local backend (wall time, time per shard, SendMessageBatch
## calls, peak RSS, the largest item), then 100,000 on fauxqs and dynalite
## for correctness (docs/scale.md). Each size ends with "planned in <s> s"
## and "peak RSS <n> MiB". About 4 minutes.
bench-scale: tools
	@mkdir -p build
	$(GO) build -o build/scale ./bench/scale
	for n in 10000 100000 1000000; do echo "== $$n targets, local"; build/scale -targets $$n || exit 1; done
	echo "== 1000000 targets, local, a later tick (the validators of 2 earlier runs)"; build/scale -targets 1000000 -previous 2
	echo "== 100000 targets, fauxqs + dynalite"; build/scale -targets 100000 -standins

# The peers' pinned versions. Scrapy is Debian's package (system-wide, with
# apt-get); Crawlee goes into bench/peers/ (ignored by git).
SCRAPY_DEB     := 2.8.0-2
CRAWLEE        := 3.18.1

## bench-peers: install Scrapy (Debian python3-scrapy) and Crawlee (npm) for `make bench`
bench-peers:
	@if /usr/bin/python3 -c 'import scrapy' 2>/dev/null; then echo "scrapy: $$(/usr/bin/python3 -c 'import scrapy; print(scrapy.__version__)') already installed"; \
	else $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y --no-install-recommends python3-scrapy=$(SCRAPY_DEB); fi
	@mkdir -p bench/peers
	cd bench/peers && { [ -f package.json ] || echo '{"private": true}' > package.json; } && \
		npm install --no-audit --no-fund --save-exact crawlee@$(CRAWLEE)

clean:
	rm -rf $(BIN) .cronless node_modules build
