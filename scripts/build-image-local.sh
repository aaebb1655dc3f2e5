#!/usr/bin/env bash
# Builds the tenant image (Dockerfile.tenant) from local material only: no image
# registry, no network during the build. Used by the E2E tests and by
# `make image-local`. Where a registry is reachable, build with
# `docker build -f Dockerfile.tenant .` instead.
#
#  1. The builder image is `docker import`ed from a tarball of the local Go
#     toolchain (GOROOT as /usr/local/go), /bin/sh and mkdir with the shared
#     libraries they load, and the host's CA bundle. Reused when it exists.
#  2. The build context is a temporary copy of the working tree (tracked and
#     untracked files, not ignored ones) plus `go mod vendor` from the local
#     module cache, so the build stage runs with GOFLAGS=-mod=vendor.
#  3. docker build with GO_IMAGE=<builder> and RUNTIME_IMAGE=scratch.
#
# Environment:
#   IMAGE          tag of the tenant image (default tenant-init:local)
#   BUILDER_IMAGE  tag of the builder image (default tenant-init-builder:<go version>)
#   LABEL          key=value label put on both images, e.g. for removal by label
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'build-image-local: %s\n' "$*" >&2; }

command -v docker >/dev/null || { log "docker is not installed"; exit 1; }
command -v go >/dev/null || { log "go is not on PATH: the builder image is made from the local Go toolchain"; exit 1; }
docker version --format '{{.Server.Version}}' >/dev/null ||
	{ log "the Docker daemon does not answer (is it running, may this user use it?)"; exit 1; }

GOROOT=$(go env GOROOT)
GOVERSION=$(go env GOVERSION)
IMAGE=${IMAGE:-tenant-init:local}
BUILDER_IMAGE=${BUILDER_IMAGE:-tenant-init-builder:${GOVERSION#go}}
LABEL=${LABEL:-}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# stage_binary copies a host executable into the builder's root at dest, with
# every shared library it loads at the path the dynamic loader looks for it.
stage_binary() {
	local src dest lib
	src=$(readlink -f "$(command -v "$1")")
	dest=$work/rootfs/$2
	mkdir -p "$(dirname "$dest")"
	cp "$src" "$dest"
	for lib in $(ldd "$src" 2>/dev/null | grep -o '/[^ ]*' || true); do
		mkdir -p "$work/rootfs$(dirname "$lib")"
		cp -L "$lib" "$work/rootfs$lib"
	done
}

if docker image inspect "$BUILDER_IMAGE" >/dev/null 2>&1; then
	log "reusing builder image $BUILDER_IMAGE"
else
	log "assembling builder image $BUILDER_IMAGE from $GOROOT ($GOVERSION)"
	stage_binary sh bin/sh
	stage_binary mkdir bin/mkdir
	mkdir -p "$work/rootfs/etc/ssl/certs" "$work/rootfs/src"
	mkdir -m 1777 "$work/rootfs/tmp"
	cp -L /etc/ssl/certs/ca-certificates.crt "$work/rootfs/etc/ssl/certs/"
	# One tar stream: the staged root, then GOROOT renamed to usr/local/go.
	# The toolchain's own sources (src/cmd: its tools come prebuilt in
	# pkg/tool), tests and docs are not needed to build programs.
	goroot_name=$(basename "$GOROOT")
	tar -cf - --owner=0 --group=0 \
		-C "$work/rootfs" . \
		-C "$(dirname "$GOROOT")" \
		--exclude="$goroot_name/src/cmd" --exclude="$goroot_name/test" \
		--exclude="$goroot_name/api" --exclude="$goroot_name/doc" \
		--exclude="$goroot_name/misc" --exclude='testdata' \
		--transform="s,^$goroot_name\(/\|\$\),usr/local/go\1," \
		"$goroot_name" |
		docker import \
			--change 'ENV PATH=/usr/local/go/bin:/bin' \
			--change 'ENV GOROOT=/usr/local/go GOPATH=/go GOCACHE=/tmp/go-build GOTOOLCHAIN=local' \
			${LABEL:+--change "LABEL $LABEL"} \
			- "$BUILDER_IMAGE" >/dev/null
fi

log "preparing the build context"
mkdir "$work/ctx"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar -cf - --null -T - | tar -xf - -C "$work/ctx"
else
	tar -cf - --exclude=./.git --exclude=./bin --exclude=./vendor . | tar -xf - -C "$work/ctx"
fi
# The local module cache is the only source: GOPROXY=off keeps the network out.
# `go mod download` (make modules, which make test runs first) fills it with
# every module go.mod lists, including those a Linux `go build` never fetches.
(cd "$work/ctx" && GOPROXY=off go mod vendor) ||
	{ log "go mod vendor failed: the local module cache ($(go env GOMODCACHE)) lacks a module: run 'make modules' (go mod download) once with the module proxy reachable"; exit 1; }

log "building $IMAGE"
docker build \
	-f "$work/ctx/Dockerfile.tenant" \
	--build-arg GO_IMAGE="$BUILDER_IMAGE" \
	--build-arg RUNTIME_IMAGE=scratch \
	--build-arg GOFLAGS=-mod=vendor \
	--build-arg VERSION="$(git describe --tags --always --dirty 2>/dev/null || echo dev)" \
	--build-arg COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
	${LABEL:+--label "$LABEL"} \
	-t "$IMAGE" \
	"$work/ctx"
log "built $IMAGE"
