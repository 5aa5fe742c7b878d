#!/usr/bin/env bash
# A private PostgreSQL server for the tests: Debian's own binaries, a
# cluster made by initdb in a fresh folder, listening on a unix socket in
# that folder only (no TCP port), run by an unprivileged account.
#
#   pg-server.sh start [DIR]  makes DIR (or a fresh temporary folder), starts
#                             the server there and prints two lines: DIR, then
#                             the superuser's libpq URI for database postgres
#   pg-server.sh stop DIR     stops the server (fast) but keeps its files
#   pg-server.sh restart DIR  starts a stopped server again on the same files
#   pg-server.sh remove DIR   stops it if it runs and removes DIR
#
# As root the server runs as the "postgres" account (postgresql-common makes
# it; initdb refuses root); otherwise as the caller.  Authentication is
# "trust" on the socket: the folder is the boundary (mode 0711, the socket
# 0777 so the test's daemons, run as other accounts, can connect).
#   PG_SERVER_FSYNC=off  for throwaway data where speed matters more (the
#                        default is on, as a real server's)
set -euo pipefail

die() { echo "pg-server.sh: $*" >&2; exit 1; }

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] ||
    die "no PostgreSQL server binaries (apt-get install postgresql)"
  echo "$d"
}

# as_owner CMD...: run as the account that owns the cluster
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

uri() {
  # the socket folder is the host; user and database as initdb made them
  echo "postgresql:///postgres?host=$1&user=postgres"
}

start_server() {
  local dir=$1 bin
  bin=$(bindir)
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-k $dir -c listen_addresses= -c unix_socket_permissions=0777 -c fsync=${PG_SERVER_FSYNC:-on}" \
    start >/dev/null || { tail -n 20 "$dir/server.log" >&2; die "the server did not start"; }
}

cmd_start() {
  local dir=${1:-} bin
  bin=$(bindir)
  if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/pkpg.XXXXXX")
  else
    mkdir -p "$dir"
  fi
  # a unix socket path must fit in 107 bytes
  [ ${#dir} -lt 80 ] || die "folder name too long for a socket: $dir"
  chmod 0711 "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "no postgres account (apt-get install postgresql)"
    chown postgres: "$dir"
  fi
  as_owner "$bin/initdb" -D "$dir/data" --username=postgres --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { tail -n 20 "$dir/initdb.log" >&2; die "initdb failed"; }
  start_server "$dir"
  echo "$dir"
  uri "$dir"
}

cmd_stop() {
  local dir=$1
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
}

cmd_remove() {
  local dir=$1
  [ -d "$dir/data" ] || die "not a pg-server.sh folder: $dir"
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
start) cmd_start "${2:-}" ;;
stop) cmd_stop "${2:?folder}" ;;
restart) start_server "${2:?folder}" ;;
remove) cmd_remove "${2:?folder}" ;;
*) die "usage: pg-server.sh start [DIR] | stop DIR | restart DIR | remove DIR" ;;
esac
