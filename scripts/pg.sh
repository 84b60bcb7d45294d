#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster: initdb in a temp dir, the server on a
# free loopback port, a non-superuser role `tillit` (privilege checks apply to it; superusers
# bypass them) owning database `tillit`; TILLIT_TEST_PG holds its URL for the command. The
# cluster is stopped and its directory removed afterwards, whatever the command's outcome.
#   bash scripts/pg.sh cargo test -p tillit-collector
set -euo pipefail
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "pg.sh: PostgreSQL is not installed (scripts/setup.sh installs Debian's postgresql)" >&2
  exit 1
fi
dir="$(mktemp -d /tmp/tillit-pg.XXXXXX)"
chmod 755 "$dir"
# initdb refuses to run as root: run the cluster as the package's postgres user then.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$dir"
cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
started=""
for _ in 1 2 3 4 5 6 7 8; do
  port=$(( 20000 + RANDOM % 30000 ))
  if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=on -c max_connections=200" start >/dev/null 2>&1; then
    started=1; break
  fi
done
if [ -z "$started" ]; then
  echo "pg.sh: the server did not start; its log:" >&2; cat "$dir/server.log" >&2; exit 1
fi
"$PGBIN/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE tillit LOGIN CREATEDB" -c "CREATE DATABASE tillit OWNER tillit" >/dev/null
export TILLIT_TEST_PG="postgres://tillit@127.0.0.1:$port/tillit"
echo "pg.sh: PostgreSQL on 127.0.0.1:$port (cluster in $dir)" >&2
set +e
"$@"
rc=$?
exit $rc
