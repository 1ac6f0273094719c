#!/usr/bin/env bash
# Start a throw-away PostgreSQL on loopback for the registry tests; print its URL.
# Installs Debian's package when the server is missing. Usage: eval "$(.ci/postgres.sh)"
set -euo pipefail
PORT="${FEDCARE_PG_PORT:-55432}"
BIN=""
for dir in /usr/lib/postgresql/*/bin; do [ -x "$dir/initdb" ] && BIN="$dir"; done
if [ -z "$BIN" ]; then
  echo "installing PostgreSQL from Debian's packages..." >&2
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) >&2
  for dir in /usr/lib/postgresql/*/bin; do [ -x "$dir/initdb" ] && BIN="$dir"; done
fi
[ -n "$BIN" ] || { echo "PostgreSQL server binaries not found after install" >&2; exit 1; }
DATA="$(mktemp -d /tmp/fedcare-pg.XXXXXX)"
RUN=()
if [ "$(id -u)" = 0 ]; then  # initdb refuses root: run the server as the postgres user
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$DATA"
  RUN=(runuser -u postgres --)
fi
"${RUN[@]}" "$BIN/initdb" -D "$DATA/db" -U postgres --auth=trust -E UTF8 >/dev/null
"${RUN[@]}" "$BIN/pg_ctl" -D "$DATA/db" -l "$DATA/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA" start >/dev/null
"$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres fedcare_test >&2
echo "export FEDCARE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/fedcare_test"
echo "export FEDCARE_TEST_POSTGRES_STOP='${RUN[*]} $BIN/pg_ctl -D $DATA/db -m fast stop'"
