#!/usr/bin/env bash
# A PostgreSQL server for the store test-suite, from the system packages (Debian/Ubuntu).
#
# Idempotent: on a fresh machine it installs PostgreSQL, creates a cluster if the package
# did not, makes it listen on 127.0.0.1:5432 and starts it; where it already ran it only
# (re)starts what is down. Then it makes sure role `tracker` (password `tracker`) and
# database `tracker_test` (owned by it) exist, and prints, as the only line on stdout:
#
#     postgresql://tracker:tracker@127.0.0.1:5432/tracker_test
#
# so that `.ci/run` can do `export TRACKER_TEST_POSTGRES_URL=$(.ci/postgres.sh)`.
# Runs as root (or with sudo). Everything but the URL goes to stderr.
set -euo pipefail

PORT=${TRACKER_PG_PORT:-5432}
ROLE=tracker
PASSWORD=tracker
DB=tracker_test
CLUSTER=main

log() { echo "postgres.sh: $*" >&2; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "run as root (or install sudo)"; exit 1; }
    SUDO="sudo"
fi

# 1. the packages
if ! command -v pg_ctlcluster >/dev/null || ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    log "installing postgresql from the system packages"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
log "PostgreSQL $VERSION"

# 2. a cluster on $PORT (the package creates `main` on 5432 unless told not to)
existing=$(pg_lsclusters -h 2>/dev/null | awk -v port="$PORT" '$3 == port {print $1 " " $2; exit}')
if [ -n "$existing" ]; then
    read -r VERSION CLUSTER <<<"$existing"
else
    if pg_lsclusters -h 2>/dev/null | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c {f=1} END {exit !f}'; then
        CLUSTER=tracker_ci  # `main` exists on another port: leave it alone
    fi
    log "creating cluster $VERSION/$CLUSTER on port $PORT"
    $SUDO pg_createcluster "$VERSION" "$CLUSTER" --port "$PORT" >&2
fi
CONF_D=/etc/postgresql/$VERSION/$CLUSTER/conf.d
$SUDO mkdir -p "$CONF_D"
# Listen on 127.0.0.1 only; room for the parallel conformance cases' connection pools.
want=$(printf "listen_addresses = '127.0.0.1'\nport = %s\nmax_connections = 300\n" "$PORT")
if [ "$($SUDO cat "$CONF_D/tracker-ci.conf" 2>/dev/null)" != "$want" ]; then
    printf '%s\n' "$want" | $SUDO tee "$CONF_D/tracker-ci.conf" >/dev/null
    if pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c && $4 == "online" {f=1} END {exit !f}'; then
        log "restarting $VERSION/$CLUSTER for the new settings"
        $SUDO pg_ctlcluster "$VERSION" "$CLUSTER" restart >&2
    fi
fi

# 3. running (pg_ctlcluster works without systemd, e.g. in containers)
if ! pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c && $4 == "online" {f=1} END {exit !f}'; then
    log "starting $VERSION/$CLUSTER"
    $SUDO pg_ctlcluster "$VERSION" "$CLUSTER" start >&2
fi
for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$PORT" && break
    sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$PORT" >&2 || { log "server did not come up"; exit 1; }

# 4. role and database
as_postgres() {  # run a command as the postgres OS user, from a directory it can read
    if [ -z "$SUDO" ]; then
        if command -v runuser >/dev/null; then (cd / && runuser -u postgres -- "$@")
        else (cd / && su postgres -s /bin/sh -c "$(printf '%q ' "$@")"); fi
    else
        (cd / && sudo -u postgres "$@")
    fi
}
psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" "$@"; }
psql_admin -d postgres >&2 <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD';
    ELSE
        ALTER ROLE $ROLE LOGIN PASSWORD '$PASSWORD';
    END IF;
END
\$\$;
-- the tests make one schema (or database) per test and drop it afterwards
ALTER ROLE $ROLE CREATEDB;
SQL
if [ "$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
    log "creating database $DB"
    psql_admin -d postgres -c "CREATE DATABASE $DB OWNER $ROLE" >&2
fi

URL="postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
# a real login over TCP with the password, as the tests will do
PGPASSWORD=$PASSWORD psql -X -q -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d "$DB" -tAc "SELECT 1" >/dev/null
echo "$URL"
