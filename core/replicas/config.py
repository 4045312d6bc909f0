"""The read replicas' DATABASES entries, built from DATABASE_REPLICA_URLS and checked against
the bounds that keep read-your-writes sound. Called by bookstore.settings, before the apps
load: it imports no model."""

from collections.abc import Mapping, Sequence
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured


def replica_databases(
    urls: Sequence[str],
    *,
    primary: Mapping[str, Any],
    max_lag_seconds: float,
    check_interval_seconds: float,
    read_your_writes_seconds: float,
    redis_url: str,
) -> dict[str, dict[str, Any]]:
    """{"replica_1": ..., "replica_2": ...}: one DATABASES entry per URL, with the primary's
    connection settings; empty without URLs. Refuses (ImproperlyConfigured) a URL that is not
    one PostgreSQL server, replicas of a primary that is not PostgreSQL or without Redis, and
    bounds under which a user could miss their own write."""
    databases: dict[str, dict[str, Any]] = {}
    # One URL per replica: a multi-host URL (host1,host2) would be split at its comma.
    for number, url in enumerate(urls, start=1):
        replica: dict[str, Any] = dict(environ.Env.db_url_config(url))
        if replica.get("ENGINE") != "django.db.backends.postgresql" or not (
            replica.get("HOST") and replica.get("NAME")
        ):
            raise ImproperlyConfigured(
                f"DATABASE_REPLICA_URLS: replica {number} is not a postgres:// URL with a host "
                "and a database name (one URL per replica, comma-separated)."
            )
        for name in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "DISABLE_SERVER_SIDE_CURSORS"):
            replica[name] = primary[name]
        # The primary's options (connect_timeout...) unless the replica's URL sets its own;
        # never target_session_attrs=read-write, which refuses a standby.
        replica["OPTIONS"] = {
            **{
                name: value
                for name, value in primary.get("OPTIONS", {}).items()
                if name != "target_session_attrs"
            },
            **replica.get("OPTIONS", {}),
        }
        # Test runs read the test database through the replica's alias.
        replica["TEST"] = {"MIRROR": "default"}
        databases[f"replica_{number}"] = replica
    if urls:
        if primary["ENGINE"] != "django.db.backends.postgresql":
            raise ImproperlyConfigured("DATABASE_REPLICA_URLS needs a PostgreSQL DATABASE_URL.")
        if not redis_url:
            # The read-your-writes markers must be seen by every instance.
            raise ImproperlyConfigured("DATABASE_REPLICA_URLS needs REDIS_URL.")
        if check_interval_seconds <= 0 or max_lag_seconds < 0:
            raise ImproperlyConfigured(
                "REPLICA_CHECK_INTERVAL_SECONDS must be above 0 and REPLICA_MAX_LAG_SECONDS at "
                "least 0."
            )
        if read_your_writes_seconds < max_lag_seconds + 2 * check_interval_seconds:
            # A replica is used while its last verdict is younger than
            # READ_YOUR_WRITES_SECONDS - REPLICA_MAX_LAG_SECONDS (core.replicas.health): that
            # must outlast a round of checks and the interval between two.
            raise ImproperlyConfigured(
                "READ_YOUR_WRITES_SECONDS must be at least REPLICA_MAX_LAG_SECONDS + "
                "twice REPLICA_CHECK_INTERVAL_SECONDS, or a user could miss their own write."
            )
    return databases
