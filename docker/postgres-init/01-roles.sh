#!/usr/bin/env bash
# Warehouse roles, created once by the postgres image's entrypoint when it initialises an empty data directory
# (every file in /docker-entrypoint-initdb.d runs then, and never again: changing a password in .env later means
# `ALTER ROLE … PASSWORD …` by hand, or `docker-compose down -v` to start from nothing).
#
#   pulse_projector  owns the warehouse database, so ledger-projector can create the `warehouse` schema, apply the
#                    migrations of schema/ and build a rebuild's shadow schema. Not a superuser.
#   grafana_reader   SELECT only. ledger-projector grants it USAGE and SELECT on the schema after every migration
#                    (and default privileges for tables created later, such as new daily partitions): see
#                    Sources/Projector/Core/Schema/Migrator.swift, grantRead. Its search_path is the schema, so the
#                    dashboards' SQL names tables unqualified, as scripts/lib.sh sets it up for the tests.
#
# Passwords come from the environment (.env), never from this file; psql's :'var' quotes them as literals.
set -euo pipefail

: "${POSTGRES_DB:?POSTGRES_DB is not set}"
: "${PROJECTOR_PASSWORD:?PROJECTOR_PASSWORD is not set (see .env.example)}"
: "${GRAFANA_READER_PASSWORD:?GRAFANA_READER_PASSWORD is not set (see .env.example)}"
warehouse_schema="${WAREHOUSE_SCHEMA:-warehouse}"

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "$POSTGRES_DB" \
    -v database="$POSTGRES_DB" -v schema="$warehouse_schema" \
    -v projector_password="$PROJECTOR_PASSWORD" -v reader_password="$GRAFANA_READER_PASSWORD" <<'SQL'
CREATE ROLE pulse_projector LOGIN PASSWORD :'projector_password';
ALTER DATABASE :"database" OWNER TO pulse_projector;

CREATE ROLE grafana_reader LOGIN PASSWORD :'reader_password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
-- Defence in depth: even a grant made by mistake cannot be used to write through this role.
ALTER ROLE grafana_reader SET default_transaction_read_only = on;
ALTER ROLE grafana_reader SET search_path = :"schema";
-- A dashboard query must never hold the warehouse for long.
ALTER ROLE grafana_reader SET statement_timeout = '30s';

-- Only the two roles (and the superuser) connect; nobody else creates objects in public.
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO grafana_reader;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
