// Package e2e holds the end-to-end tests of the tenant image: real containers
// of an image built from Dockerfile.tenant, talking to a real PostgreSQL with
// pgvector over the host network.
//
// The tests need a Docker engine and fail, never skip, without one. They build
// the images once per run from local material only (scripts/build-image-local.sh:
// no registry, no network) and remove every container and image they created
// when the run ends, also when it fails. TENANT_INIT_E2E_KEEP_IMAGES=1 keeps the
// images (tagged :kept) between runs so iterating on a test does not rebuild.
//
// Subpackage demomain is the stand-in main service the tests and `make demo` run.
package e2e
