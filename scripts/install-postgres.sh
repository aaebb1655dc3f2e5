#!/usr/bin/env bash
# Installs PostgreSQL 15 server binaries and the pgvector extension on Debian or
# Ubuntu, so the tests and `make demo` have a real database to talk to.
#
# Idempotent: does nothing when pgvector is already installed for PostgreSQL 15.
#
# pgvector comes from a binary package where the distribution has one
# (postgresql-15-pgvector: Debian trixie and later, Ubuntu with PG 15). Debian
# bookworm has none, so there we build Debian's own pgvector source package from
# the next release's (trixie) source archive against postgresql-server-dev-15.
# OPTFLAGS="" keeps the build portable: upstream's default is -march=native,
# which would produce a .so that crashes on an older CPU than the build host's.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
SRC_SUITE=${PGVECTOR_SOURCE_SUITE:-trixie}

log() { printf 'install-postgres: %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_mirrors prints, in apt's order (sources.list, then sources.list.d in name
# order), the first URI of every enabled "deb" source for suite $1, read from
# one-line (.list) and deb822 (.sources) files: the machine's own mirror of
# its distribution, which also serves that distribution's other releases.
apt_mirrors() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do
		[ -f "$f" ] || continue
		case $f in
		*.sources)
			awk -v suite="$1" '
				function flush() {
					if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no" && uris != "" &&
						(" " suites " ") ~ ("[ \t]" suite "[ \t]")) {
						split(uris, u, /[ \t]+/); print u[1]
					}
					types = uris = suites = enabled = ""
				}
				/^[ \t]*#/ { next }
				/^[ \t]*$/ { flush(); next }
				/^[^ \t][^:]*:/ {
					i = index($0, ":"); k = tolower(substr($0, 1, i - 1)); v = substr($0, i + 1)
					gsub(/^[ \t]+|[ \t]+$/, "", v)
					if (k == "types") types = v; else if (k == "uris") uris = v
					else if (k == "suites") suites = v; else if (k == "enabled") enabled = tolower(v)
				}
				END { flush() }' "$f"
			;;
		*.list | /etc/apt/sources.list)
			awk -v suite="$1" '
				{ sub(/#.*/, ""); gsub(/\[[^]]*\]/, " ") }
				$1 == "deb" && $3 == suite { print $2 }' "$f"
			;;
		esac
	done
}

have_pgvector() {
	[ -x "$PG_CONFIG" ] || return 1
	local share
	share=$("$PG_CONFIG" --sharedir)
	[ -f "$share/extension/vector.control" ] &&
		[ -f "$("$PG_CONFIG" --pkglibdir)/vector.so" ]
}

if have_pgvector; then
	log "PostgreSQL $PG_MAJOR with pgvector is already installed"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
as_root apt-get update -qq

if [ ! -x "/usr/lib/postgresql/$PG_MAJOR/bin/postgres" ]; then
	log "installing postgresql-$PG_MAJOR"
	as_root apt-get install -y -qq "postgresql-$PG_MAJOR" >/dev/null
fi

if apt-cache show "postgresql-$PG_MAJOR-pgvector" >/dev/null 2>&1; then
	log "installing the binary package postgresql-$PG_MAJOR-pgvector"
	as_root apt-get install -y -qq "postgresql-$PG_MAJOR-pgvector" >/dev/null
else
	log "no binary pgvector package for PostgreSQL $PG_MAJOR here: building Debian's source package from $SRC_SUITE"
	as_root apt-get install -y -qq "postgresql-server-dev-$PG_MAJOR" build-essential dpkg-dev >/dev/null

	# The source suite comes from the mirror this machine already uses for its
	# own release, as apt would (PGVECTOR_SOURCE_URI overrides it).
	release=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
	mirror=${PGVECTOR_SOURCE_URI:-$(apt_mirrors "$release" | sed -n 1p)}
	if [ -z "$mirror" ]; then
		log "no enabled 'deb' source for ${release:-this release} in /etc/apt/sources.list or /etc/apt/sources.list.d: cannot tell which mirror serves $SRC_SUITE's sources (set PGVECTOR_SOURCE_URI to the distribution's archive URI)"
		exit 1
	fi
	log "source suite $SRC_SUITE from $mirror"

	# A deb-src entry for the source suite only; binaries keep coming from the
	# installed release. Removed again on exit so apt's state is as we found it.
	src_list=/etc/apt/sources.list.d/tenant-init-pgvector-src.sources
	cleanup() { as_root rm -f "$src_list"; as_root apt-get update -qq || true; }
	trap cleanup EXIT
	as_root tee "$src_list" >/dev/null <<EOF
Types: deb-src
URIs: $mirror
Suites: $SRC_SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	as_root apt-get update -qq

	work=$(mktemp -d)
	chmod 755 "$work" # apt-get source downloads as the _apt user
	(
		cd "$work"
		apt-get source -qq --download-only pgvector
		dpkg-source -x --no-check ./pgvector_*.dsc src >/dev/null
		cd src
		make -s PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >/dev/null
		as_root make -s PG_CONFIG="$PG_CONFIG" OPTFLAGS="" install >/dev/null
	)
	rm -rf "$work"
fi

if ! have_pgvector; then
	log "pgvector is still missing for PostgreSQL $PG_MAJOR after the install: see the output above"
	exit 1
fi
log "PostgreSQL $PG_MAJOR with pgvector installed ($("$PG_CONFIG" --version))"
