# mizan — the targets are the README's vocabulary. `make help` lists them.

GO      ?= go
BIN     := bin
PKGS    := ./...
# Static binaries, as the container image builds them.
export CGO_ENABLED = 0

.PHONY: help build run up test test-race bench lint fmt vet clean
.PHONY: chaos chaos-long fuzz

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the poller, reconciler, simulator and demo binaries into bin/
	$(GO) build -trimpath -o $(BIN)/ ./cmd/...

run: build ## run the whole pipeline once on embedded defaults (broker, simulators, PostgreSQL) and show the result
	$(BIN)/demo

up: build ## start the whole pipeline and keep it running (explore with psql and kcat); Ctrl-C stops it
	$(BIN)/demo --keep-running

test: ## run every test (needs PostgreSQL on 127.0.0.1:5432 or TEST_DATABASE_URL; KAFKA_BROKERS for a real cluster)
	$(GO) test -count=1 -timeout 20m $(PKGS)

test-race: ## run every test with the race detector
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 30m $(PKGS)

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

clean: ## remove binaries and the local pipeline's data (.run/)
	rm -rf $(BIN) .run

chaos: build ## the fault suite, CI setting: kill and restart the reconciler, poller, broker and PostgreSQL mid-stream, then prove the ledger exact
	$(BIN)/chaos --setting ci

chaos-long: build ## the fault suite, long setting (100 reconciler kills, a bigger month)
	$(BIN)/chaos --setting long

FUZZTIME ?= 30s
fuzz: ## run every Go fuzz target for FUZZTIME each (default 30s), one after another
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' internal cmd | sort); do \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "== $$t ($$(dirname $$f)) for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$(dirname $$f); \
		done; \
	done
