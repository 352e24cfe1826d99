#!/bin/sh
# The primary's one-time set-up for a streaming replica: a replication role
# and a pg_hba.conf line letting it connect from the compose network. The
# postgres image runs /docker-entrypoint-initdb.d/*.sh once, as the postgres
# user, when it creates the data directory (then restarts the server, which
# reads the new pg_hba.conf). Used by deploy/docker-compose.replicas.yml.
set -eu
# The password goes in as a psql variable (:'password' quotes it), never
# spliced into the SQL text.
psql -v ON_ERROR_STOP=1 -v password="$CALLQ_REPLICATION_PASSWORD" \
    --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
