#!/usr/bin/env bash
# Installs (from Debian's packages) and starts a PostgreSQL server on 127.0.0.1:5432 that the tests reach as
# `postgres` without a password. For CI and a developer's Debian machine; it needs root. Safe to run again.
#
# Local connections only (127.0.0.1 and ::1) are set to trust: this is a test server, never a production one.
set -euo pipefail

server_installed() { ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; }

if ! server_installed; then
  echo "postgres-up: installing PostgreSQL from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$version main"; then
  pg_createcluster "$version" main >/dev/null
fi

hba="/etc/postgresql/$version/main/pg_hba.conf"
if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
  sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  restart=1
fi

if pg_isready -h 127.0.0.1 -p 5432 -q; then
  [ "${restart:-0}" = 1 ] && pg_ctlcluster "$version" main reload
else
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi
for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select version()'
