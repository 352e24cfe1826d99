#!/bin/sh
# The standby's start: on the first start (an empty data directory) a base
# backup of the primary with -R, which writes standby.signal and the
# primary_conninfo to stream from; then the postgres image's own entrypoint,
# which starts the server on that data directory as a hot standby. Runs as
# root (the image's default), the backup as the postgres user.
# Used by deploy/docker-compose.replicas.yml.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 0700 "$PGDATA"
    # Until the primary takes it (a failed attempt empties the directory).
    until PGPASSWORD="$CALLQ_REPLICATION_PASSWORD" gosu postgres \
        pg_basebackup --host=postgres --username=replicator --pgdata="$PGDATA" \
        --write-recovery-conf --wal-method=stream --checkpoint=fast; do
        echo "standby: base backup failed; retrying in 2 s" >&2
        sleep 2
    done
fi
exec docker-entrypoint.sh postgres
