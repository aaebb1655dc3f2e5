# The one entry point for building and testing; .ci/run calls `make lint` and
# `make test` with a module and build cache of its own, both empty.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BINARIES  := memory-plugin memory-backfill

.PHONY: all build test unit lint vet modules deps bench bench-plugin bench-init clean fuzz

all: build

# tenant-init is built twice: with the tag pid1, the init (its check,
# backfill and --help exec tenant-init-tools), and without it,
# tenant-init-tools, which ships beside it (cmd/tenant-init/tools.go says why).
build:
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -tags pid1 -ldflags '$(LDFLAGS)' -o bin/tenant-init ./cmd/tenant-init
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tenant-init-tools ./cmd/tenant-init
	@for b in $(BINARIES); do \
		[ -d cmd/$$b ] || continue; \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/$$b ./cmd/$$b || exit 1; \
	done

# deps installs what the tests need on Debian/Ubuntu: PostgreSQL 15 and pgvector.
deps:
	bash scripts/install-postgres.sh

# modules downloads every module go.mod lists, for every platform: the e2e
# image build vendors them with the network off (scripts/build-image-local.sh),
# and `go build` on Linux never fetches some of them (cobra's Windows-only
# mousetrap), so a fresh module cache would lack them.
modules:
	$(GO) mod download

# TESTDATA_PKGS are the programs under testdata/ directories, which ./...
# leaves out; lint vets and checks them explicitly.
TESTDATA_PKGS = $(sort $(patsubst %/,%,$(dir $(shell find . -path ./vendor -prune -o -path '*/testdata/*' -name '*.go' -print))))

# The init is also built with the tag pid1 (see build): vet that build too.
vet:
	$(GO) vet ./... $(TESTDATA_PKGS)
	$(GO) vet -tags pid1 ./cmd/tenant-init

# STATICCHECK is pinned; `go run` fetches and builds it through the module
# cache, so nothing is installed by hand.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK = $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# lint fails on unformatted files (listing them), go vet findings (testdata
# programs included) and staticcheck findings.
lint: vet
	@unformatted=$$(gofmt -l $$(find . -path ./vendor -prune -o -name '*.go' -print)); \
	if [ -n "$$unformatted" ]; then echo "gofmt: these files need gofmt -w:"; echo "$$unformatted"; exit 1; fi
	$(STATICCHECK) ./... $(TESTDATA_PKGS)
	$(STATICCHECK) -tags pid1 ./cmd/tenant-init
	@echo "lint: gofmt, go vet and staticcheck $(STATICCHECK_VERSION) found nothing"

# unit runs the tests that need no root, PostgreSQL or Docker, in seconds:
# `go test -short` on every package but e2e (Docker only). Under -short, and
# only there, what needs more is skipped, naming it: pgtest.SkipShort (in
# pgtest.Shared and New, or first in a test that starts a cluster itself:
# PostgreSQL) and inittest.NeedsRoot (called by
# inittest.Start for PID namespaces and mounts, and by the tests that switch
# users); `go test -short -v` lists the skips. It passes as an unprivileged
# user. `make test` never passes -short, so there a missing dependency fails.
unit:
	$(GO) test -short -count=1 $$($(GO) list ./... | grep -v '/e2e$$')

# test runs every test: unit, real PostgreSQL + pgvector, real PID 1, real containers.
# It needs root (PID namespaces, privilege drop), a Docker engine and `make deps` once.
test: modules vet
	$(GO) test -race -count=1 -timeout 40m ./...
	$(MAKE) fuzz

# fuzz runs the fuzz targets briefly; their seed corpora already run in `go test`.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 10s ./plugin

# bench runs every go test benchmark but initbench's, which needs the built
# init and tini: make bench-init.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m $$($(GO) list ./... | grep -v '/initbench$$')

# bench-plugin measures memory-plugin side by side with a reproduction of the
# platform's plugin over HTTP (docs/benchmarks.md). Flags through BENCH_FLAGS,
# e.g. make bench-plugin BENCH_FLAGS='-memories 10000 -pg stock'; see
# bin/plugin-bench -h. 4 to 10 minutes at the default 100,000 memories.
BENCH_FLAGS ?=
bench-plugin: build
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/plugin-bench ./cmd/plugin-bench
	bin/plugin-bench -plugin-bin bin/memory-plugin $(BENCH_FLAGS)

# bench-init measures tenant-init against tini side by side (start-up, signal
# forwarding, RSS, size, polled readiness) and prints the ratios against the
# goals; docs/benchmarks.md records the results. Needs root; installs Debian's
# tini when it is missing.
bench-init: build
	@command -v tini >/dev/null || apt-get install -y tini || { echo "bench-init: tini is missing and could not be installed (apt-get install tini)" >&2; exit 1; }
	INITBENCH_TENANT_INIT=$(CURDIR)/bin/tenant-init $(GO) test -run '^$$' -bench AgainstTini -benchtime 1x -timeout 20m ./initbench

clean:
	rm -rf bin

# --- container image and demo (Dockerfile.tenant, e2e/, scripts/demo.sh) ---
.PHONY: demo image image-local

# demo runs the main job end to end on this machine: PostgreSQL + pgvector
# (installed when missing), tenant-init booting a demo main service behind the
# gated memory-plugin sidecar, a commit and recall, a graceful stop, timings.
demo:
	bash scripts/demo.sh

# image builds the tenant image where a registry is reachable (default bases).
IMAGE ?= tenant-init:$(VERSION)
image:
	docker build -f Dockerfile.tenant --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE) .

# image-local builds it from local material only: no registry, no network.
image-local:
	IMAGE=$(IMAGE) bash scripts/build-image-local.sh
