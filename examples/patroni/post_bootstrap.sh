#!/bin/sh
# Patroni's bootstrap.post_bootstrap: run once, on the node that makes the cluster, with a superuser connection
# string as its argument. Makes Roster's role (not a superuser) and its database; Roster's migrations do the rest.
set -eu
password=$(cat "${ROSTER_DATABASE_PASSWORD_FILE:-/run/secrets/roster_db_password}")
psql "$1" -v ON_ERROR_STOP=1 -v password="$password" <<'SQL'
CREATE ROLE roster LOGIN PASSWORD :'password';
CREATE DATABASE roster OWNER roster;
SQL
