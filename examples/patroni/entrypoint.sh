#!/bin/sh
# Starts Patroni with its PostgreSQL passwords read from files (compose secrets under /run/secrets), so that
# they are in neither compose.yaml nor `docker inspect`.
set -eu
secrets=${PATRONI_SECRETS_DIR:-/run/secrets}
PATRONI_SUPERUSER_PASSWORD=$(cat "$secrets/postgres_superuser_password")
PATRONI_REPLICATION_PASSWORD=$(cat "$secrets/postgres_replication_password")
export PATRONI_SUPERUSER_PASSWORD PATRONI_REPLICATION_PASSWORD
exec patroni "${PATRONI_CONFIG:-/etc/patroni/patroni.yml}"
