#!/usr/bin/env bash
# `make demo`: the main job of tenant-init end to end on this machine, with
# nothing to set up but Go.
#
#  1. installs PostgreSQL 15 + pgvector when missing (scripts/install-postgres.sh);
#  2. starts a throwaway cluster on a free loopback port (as the "postgres" user
#     when run as root: initdb refuses root);
#  3. builds the binaries (make build) and the demo main service (e2e/demomain);
#  4. boots demomain under tenant-init with memory v2 cut over: the
#     memory-plugin sidecar starts first and the main service only once the
#     sidecar is healthy; demomain commits a memory and recalls it;
#  5. stops everything with SIGTERM to tenant-init, as `docker stop` does;
#  6. prints what happened with timings, removes the cluster (also on Ctrl-C
#     or a failure) and exits 0 when every step worked.
#
# As root, the services run as "nobody" (tenant-init drops privileges first).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# free_port prints a loopback port nothing listens on (a refused connection).
free_port() {
	local port
	for _ in $(seq 1 100); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	die "no free loopback port found"
}

command -v go >/dev/null || die "Go 1.26 is needed to build tenant-init: install it (the Go toolchain's own release, 1.26 or later) and put it on PATH"

say "PostgreSQL 15 + pgvector"
bash scripts/install-postgres.sh

PG_BIN=${PG_BINDIR:-$(/usr/lib/postgresql/15/bin/pg_config --bindir)}
if [ "$(id -u)" -eq 0 ]; then
	as_postgres() { runuser -u postgres -- "$@"; }
	service_user=nobody
else
	as_postgres() { "$@"; }
	service_user=
fi
work=$(mktemp -d /tmp/tenant-init-demo.XXXXXX)
chmod 755 "$work" # the cluster and the unprivileged services read from it
init_pid=
cleanup() {
	if [ -n "$init_pid" ] && kill -0 "$init_pid" 2>/dev/null; then
		kill -TERM "$init_pid" 2>/dev/null || true
		wait "$init_pid" 2>/dev/null || true
	fi
	if [ -f "$work/pg/postmaster.pid" ]; then
		as_postgres "$PG_BIN/pg_ctl" stop -s -m immediate -D "$work/pg" || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_port=$(free_port)
say "throwaway PostgreSQL on 127.0.0.1:$pg_port in $work/pg"
mkdir "$work/pg"
[ "$(id -u)" -ne 0 ] || chown postgres "$work/pg"
as_postgres "$PG_BIN/initdb" -D "$work/pg" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >"$work/initdb.log" 2>&1 ||
	die "initdb: $(cat "$work/initdb.log")"
as_postgres "$PG_BIN/pg_ctl" start -s -w -t 60 -D "$work/pg" -l "$work/pg/server.log" \
	-o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=''" ||
	die "the cluster did not start: $(tail -n 5 "$work/pg/server.log")"

say "building (make build)"
make -s build
for bin in tenant-init memory-plugin; do
	[ -x "bin/$bin" ] || die "bin/$bin was not built: is cmd/$bin in this checkout?"
done
mkdir "$work/bin"
cp bin/tenant-init bin/tenant-init-tools bin/memory-plugin "$work/bin/"
CGO_ENABLED=0 go build -trimpath -o "$work/bin/demomain" ./e2e/demomain
chmod 755 "$work/bin" "$work/bin/"*

plugin_port=$(free_port)
export MEMORY_V2_CUTOVER=true
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"
export MEMORY_PLUGIN_LISTEN_ADDR="127.0.0.1:$plugin_port"
export MEMORY_PLUGIN_URL="http://127.0.0.1:$plugin_port"
export MEMORY_PLUGIN_BIN="$work/bin/memory-plugin"
export TENANT_INIT_LOG_FORMAT=console
[ -z "$service_user" ] || export TENANT_INIT_USER=$service_user

say "booting: tenant-init -- demomain (MEMORY_V2_CUTOVER=true, sidecar on $MEMORY_PLUGIN_LISTEN_ADDR${service_user:+, services as $service_user})"
mkfifo "$work/out"
t_boot=$(now_ms)
"$work/bin/tenant-init" -- "$work/bin/demomain" >"$work/out" 2>&1 &
init_pid=$!
# A bound, not a synchronisation: a boot that hangs must not hang the demo.
(
	sleep 120 &
	sleeper=$!
	trap 'kill $sleeper 2>/dev/null; exit 0' TERM
	wait $sleeper && kill -TERM "$init_pid" 2>/dev/null && echo "demo: no round trip after 120s, stopping" >&2
) &
watchdog=$!

t_healthy= gate= t_started= t_sigterm= round_trip= failure=
# Every line, as it comes, until tenant-init and its services closed the pipe.
while IFS= read -r line; do
	printf '    | %s\n' "$line"
	case $line in
	*"memory-plugin: sidecar healthy"*)
		t_healthy=$(now_ms)
		# tenant-init's own measure, from its console log fields.
		gate=$(printf '%s' "$line" | sed -n 's/.*"ms": *\([0-9]*\).*"how": *"\([a-z]*\)".*/spawn → ready \1 ms, seen by \2/p')
		;;
	*"demomain: started"*) t_started=$(now_ms) ;;
	*"demomain: round trip ok"*)
		round_trip=${line#*round trip ok }
		t_sigterm=$(now_ms)
		kill -TERM "$init_pid" 2>/dev/null || true
		;;
	*"demomain: memory plugin off"*)
		failure="the main service got no MEMORY_PLUGIN_URL: the sidecar was not used"
		t_sigterm=$(now_ms)
		kill -TERM "$init_pid" 2>/dev/null || true
		;;
	esac
done <"$work/out"
status=0
wait "$init_pid" || status=$?
t_end=$(now_ms)
init_pid=
kill "$watchdog" 2>/dev/null || true

echo
say "what happened"
[ -n "$t_healthy" ] && say "  boot → sidecar healthy:           $((t_healthy - t_boot)) ms${gate:+ (tenant-init: $gate)}"
[ -n "$t_started" ] && say "  boot → main service started:      $((t_started - t_boot)) ms"
[ -n "$round_trip" ] && say "  commit and recall via the plugin: $round_trip"
[ -n "$t_sigterm" ] && say "  SIGTERM → everything stopped:     $((t_end - t_sigterm)) ms, tenant-init exit status $status"

[ -z "$failure" ] || die "$failure"
[ -n "$t_healthy" ] || die "no 'memory-plugin: sidecar healthy' line (tenant-init exit status $status)"
[ -n "$round_trip" ] || die "the main service did not complete its commit and recall (tenant-init exit status $status)"
[ "$status" -eq 0 ] || die "tenant-init exited $status after SIGTERM, want 0"
say "OK"
