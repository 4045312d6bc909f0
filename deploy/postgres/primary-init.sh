#!/bin/sh
# Run once by the postgres image on the primary's first start (docker-entrypoint-initdb.d):
# a role and a slot for the streaming replica, and the pg_hba.conf line that lets it in.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set=password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
-- The primary keeps the WAL the replica has not received yet, however long it is away.
SELECT pg_create_physical_replication_slot('replica');
SQL
# "all" in pg_hba.conf does not cover replication connections: they need their own line.
echo "host replication replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
