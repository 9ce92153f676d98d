# mizan — the targets are the README's vocabulary. `make help` lists them.

GO      ?= go
BIN     := bin
PKGS    := ./...
# Static binaries, as the container image builds them.
export CGO_ENABLED = 0
# What `<command> version` prints (beside the commit and Go version the build info holds).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X github.com/mizanhq/mizan/internal/cli.version=$(VERSION) -X github.com/mizanhq/mizan/internal/cli.commit=$(COMMIT)

.PHONY: help build run up test test-race bench lint fmt vet tidy verify clean generate generated
.PHONY: chaos chaos-long fuzz kafka kafka-stop test-kafka release-check

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the poller, reconciler, simulator and demo binaries into bin/
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

run: build ## run the whole pipeline once on embedded defaults (broker, simulators, PostgreSQL) and show the result
	$(BIN)/demo

up: build ## start the whole pipeline and keep it running (explore with psql and kcat); Ctrl-C stops it
	$(BIN)/demo --keep-running

# The tests' PostgreSQL: TEST_DATABASE_URL, else the local server, else one server shared by every test
# process, started here before go test and stopped after it (go test has no hook after its last package's
# process): a cluster made with the installed initdb, or the embedded PostgreSQL (downloaded once).
test: ## run every test against real PostgreSQL (found or started) and a Kafka-protocol broker (KAFKA_BROKERS for a real cluster)
	@$(GO) build -trimpath -o $(BIN)/ ./cmd/demo && $(BIN)/demo postgres start
	@status=0; $(GO) test -count=1 -timeout 20m $(PKGS) || status=$$?; $(BIN)/demo postgres stop; exit $$status

# The packages whose tests talk to Kafka (through kafkatest): test-kafka runs them again on a real broker.
KAFKA_PKGS = $(shell grep -rl --include='*_test.go' 'internal/kafka/kafkatest"' internal cmd | xargs -n1 dirname | sort -u | sed 's|^|./|')
# test-kafka's broker, apart from `make kafka`'s, and new every run.
KAFKA_TEST_DIR := .run/kafka-test

kafka: ## start a real Apache Kafka broker on loopback (state in .run/kafka) and print its address; kafka-stop stops it
	@scripts/kafka.sh start

kafka-stop: ## stop the broker `make kafka` started
	@scripts/kafka.sh stop

test-kafka: ## run every package that talks to Kafka against a real Apache Kafka broker, started and stopped here
	@$(GO) build -trimpath -o $(BIN)/ ./cmd/demo && $(BIN)/demo postgres start
	@set -e; export MIZAN_KAFKA_DIR=$(KAFKA_TEST_DIR); scripts/kafka.sh stop; rm -rf $(KAFKA_TEST_DIR); \
	trap 'scripts/kafka.sh stop; $(BIN)/demo postgres stop' EXIT; brokers=$$(scripts/kafka.sh start); \
	echo "test-kafka: KAFKA_BROKERS=$$brokers $(KAFKA_PKGS)"; \
	KAFKA_BROKERS=$$brokers $(GO) test -count=1 -timeout 20m $(KAFKA_PKGS)

test-race: ## run every test with the race detector
	@$(GO) build -trimpath -o $(BIN)/ ./cmd/demo && $(BIN)/demo postgres start
	@status=0; CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 30m $(PKGS) || status=$$?; $(BIN)/demo postgres stop; exit $$status

bench: ## measure the pipeline against this machine's limits: one run, one table (BENCH_FLAGS=--quick for a short run)
	$(GO) build -trimpath -o $(BIN)/ ./cmd/bench ./cmd/poller
	$(BIN)/bench --poller-bin $(BIN)/poller $(BENCH_FLAGS)

bench-go: ## run the Go micro-benchmarks of the hot paths
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint: fmt vet ## gofmt and go vet

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

tidy: ## go mod tidy: go.mod lists exactly what the code imports, direct dependencies not marked indirect
	$(GO) mod tidy

verify: fmt vet generated ## what CI checks besides the tests: gofmt clean, go.mod and go.sum tidy, go vet clean, generated code current
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run make tidy"; exit 1; }

# sqlc turns the .sql files beside the packages into typed Go (sqlc.yaml says which and where). It is run by
# version, not listed in go.mod: a tool of the developer's, not a dependency of mizan. It needs cgo (its
# PostgreSQL parser is libpg_query's C); its first run builds it (a few minutes), later ones come from the
# Go build cache.
SQLC := CGO_ENABLED=1 $(GO) run github.com/sqlc-dev/sqlc/cmd/sqlc@v1.31.1

generate: ## regenerate the typed database code from the .sql files (sqlc); run after editing a .sql file or a migration
	$(SQLC) generate

generated: ## check the generated database code is what the .sql files and migrations make (sqlc diff)
	@$(SQLC) diff || { echo "generated database code is not current: run make generate"; exit 1; }

release-check: ## before tagging a release: VERSION, the chart, the example manifests, CHANGELOG.md and the tag at HEAD agree (docs/release.md)
	$(GO) test -count=1 -run 'TestRelease|TestChart|TestOverlays|TestDockerfile' ./deploy
	@v=$$(cat VERSION); tag=$$(git describe --tags --exact-match 2>/dev/null || true); \
	if [ -n "$$tag" ] && [ "$$tag" != "$$v" ]; then echo "HEAD is tagged $$tag, VERSION says $$v"; exit 1; fi; \
	echo "release $$v: consistent$${tag:+, tagged}"

clean: ## remove binaries and the local pipeline's data (.run/)
	rm -rf $(BIN) .run

# CHAOS_FLAGS go to every chaos run, e.g. CHAOS_FLAGS=--no-big-poison or CHAOS_FLAGS='--seed 42'.
chaos: build ## the fault suite, CI setting, on kfake and then on a real Apache Kafka broker: kill and restart reconcilers, pollers, the broker and PostgreSQL mid-stream, then prove the ledger exact
	$(BIN)/chaos --setting ci --broker fake $(CHAOS_FLAGS)
	$(BIN)/chaos --setting ci --broker real $(CHAOS_FLAGS)

chaos-long: build ## the fault suite, long setting (100 reconciler kills, a bigger month), on both brokers
	$(BIN)/chaos --setting long --broker fake $(CHAOS_FLAGS)
	$(BIN)/chaos --setting long --broker real $(CHAOS_FLAGS)

FUZZTIME ?= 30s
fuzz: ## run every Go fuzz target for FUZZTIME each (default 30s), one after another
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' internal cmd | sort); do \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "== $$t ($$(dirname $$f)) for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$(dirname $$f); \
		done; \
	done
