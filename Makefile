# steer: `make help` lists the targets. CI (.ci/run) runs `make test`.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO       ?= go
FUZZTIME ?= 30s
# golangci-lint is pinned in tools/go.mod so its dependencies stay out of go.mod.
LINT     := $(GO) tool -modfile=tools/go.mod golangci-lint

# mains returns the non-test Go files of cmd/$(1); empty while the command is
# still being written, so that targets work before every package exists.
mains = $(filter-out %_test.go,$(wildcard cmd/$(1)/*.go))

# gobuild builds ./cmd/$(1) into bin/$(1) with the environment $(2).
define gobuild
	$(if $(call mains,$(1)),\
		$(strip $(2) $(GO) build -trimpath -buildvcs=auto -o bin/$(1) ./cmd/$(1)),\
		@echo "build: skipping bin/$(1): cmd/$(1) has no Go files yet")
endef

.PHONY: help build test test-deps lint bench fuzz faults demo clean proto conformance

help: ## list the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z-]*:.*## / { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

build: ## compile every package; put bin/steer, bin/steer-dns and bin/steer-edge (CGO_ENABLED=0) in bin/
	$(GO) build ./...
	@mkdir -p bin
	$(call gobuild,steer,)
	$(call gobuild,steer-dns,CGO_ENABLED=0)
	$(call gobuild,steer-edge,CGO_ENABLED=0)

test: test-deps ## what CI runs: vet, lint, race tests (with fuzz seed corpora), every benchmark once
	$(GO) vet ./...
	$(LINT) run ./...
	@if [ "$$($(GO) env CGO_ENABLED)" != 1 ]; then \
		echo "test: go test -race needs cgo and a C compiler; install one (apt-get install gcc)" >&2; exit 1; fi
	$(GO) test -race -count=1 ./...
	$(GO) test -run '^$$' -bench . -benchtime=1x ./...

test-deps: ## install the DNS servers and tools the integration tests drive (root + apt only)
	bash scripts/install-test-deps.sh

lint: ## run golangci-lint (.golangci.yml)
	$(LINT) run ./...

bench: ## run all benchmarks with -benchmem, then bench/sim.sh, collect.sh, dns-qps.sh, fleet.sh, build.sh (10M/100M samples), worlds.sh, learn.sh (the 14-day learning loop), plan.sh, api.sh, edge.sh (steer edge vs nginx and a bare Go proxy), ui.sh (the map explorer on 1M networks) and clickhouse.sh (the RUM store on a two-shard ClickHouse next to DuckDB)
	$(GO) test -run '^$$' -bench . -benchmem ./...
	bash bench/sim.sh
	bash bench/collect.sh
	@if [ -f bench/dns-qps.sh ]; then bash bench/dns-qps.sh; \
	else echo "bench: bench/dns-qps.sh not present, skipping"; fi
	bash bench/fleet.sh
	bash bench/build.sh
	bash bench/worlds.sh
	bash bench/learn.sh
	bash bench/plan.sh
	bash bench/api.sh
	bash bench/edge.sh
	bash bench/ui.sh
	bash bench/clickhouse.sh

proto: ## regenerate gen/ from proto/ (protoc + the plugins pinned in tools/go.mod)
	bash proto/gen.sh

faults: test-deps ## the fault-injection suite (docs/RELIABILITY.md): every TestFault* test, real processes; make test runs it too
	$(GO) test -count=1 -run '^TestFault' ./...

conformance: test-deps ## the edge proxy's conformance: h2spec (also in make test) and testssl.sh (~40 s, only here) against steer edge
	STEER_CONFORMANCE=1 $(GO) test -count=1 -v -run '^TestConformance' ./test/

fuzz: ## run every Fuzz target for FUZZTIME (default 30s) each
	@$(GO) test -list '^Fuzz' ./... \
	| awk '/^Fuzz/ { names[n++] = $$1; next } /^ok / { for (i = 0; i < n; i++) print $$2, names[i]; n = 0 }' \
	| { found=0; while read -r pkg name; do found=1; \
		echo "$(GO) test -run '^\$$' -fuzz '^$$name\$$' -fuzztime $(FUZZTIME) $$pkg"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 500x "$$pkg" </dev/null; \
	done; [ "$$found" = 1 ] || echo "fuzz: no Fuzz targets found"; }

demo: ## the end-to-end demo (go run ./cmd/steer demo); installs gcc/g++ for DuckDB first when missing (root + apt)
	@command -v g++ >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		echo "demo: installing gcc and g++ (the RUM store, DuckDB, is cgo)" && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc g++ >/dev/null; } || true
	$(GO) run ./cmd/steer demo

clean: ## remove bin/ and coverage output
	rm -rf bin coverage.out coverage.html

# Packaging: release archives, install, container image (packaging/).
PREFIX    ?= /usr/local
UNITDIR   ?= $(PREFIX)/lib/systemd/system
CONTAINER ?= $(shell command -v podman || command -v docker)
IMAGE_TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null | sed 's/^v//')

.PHONY: release install image

release: ## archives of steer-dns (linux, darwin; amd64, arm64) and steer (linux/amd64, cgo) + SHA256SUMS in dist/
	bash scripts/release.sh

install: build ## install bin/steer, bin/steer-dns and packaging/systemd's units (PREFIX=/usr/local, DESTDIR=)
	install -d "$(DESTDIR)$(PREFIX)/bin" "$(DESTDIR)$(UNITDIR)"
	install -m 0755 bin/steer bin/steer-dns "$(DESTDIR)$(PREFIX)/bin/"
	for u in packaging/systemd/*.service; do \
		sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' "$$u" >"$(DESTDIR)$(UNITDIR)/$${u##*/}"; \
		chmod 0644 "$(DESTDIR)$(UNITDIR)/$${u##*/}"; done
	@echo "install: done; then: systemctl daemon-reload, configs in /etc/steer/ (see the units' comments)"

image: ## build the steer-dns container image (packaging/container/Dockerfile) with podman or docker
	@[ -n "$(CONTAINER)" ] || { echo "image: needs podman or docker (or CONTAINER=...)" >&2; exit 1; }
	$(CONTAINER) build -f packaging/container/Dockerfile -t steer-dns:$(IMAGE_TAG) .
