#!/bin/sh
# The streaming replica: on its first start, a copy of the primary (pg_basebackup -R writes
# standby.signal and the connection back to the primary); then PostgreSQL as a hot standby.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "Copying the primary into $PGDATA..."
    pg_basebackup --host=postgres --username=replicator --pgdata="$PGDATA" \
        --write-recovery-conf --wal-method=stream --slot=replica --checkpoint=fast
fi
# hot_standby_feedback: the primary's vacuum waits for the replica's running reads instead of
# cancelling them (the app would answer those from the primary again, at a cost).
exec postgres -c hot_standby=on -c hot_standby_feedback=on
