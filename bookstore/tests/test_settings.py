"""The settings module, loaded as production loads it: from the environment alone.

Each test imports ``bookstore.settings`` in a fresh interpreter, with an environment built
from nothing (so neither this test run's variables, such as the SECRET_KEY that
bookstore/test_settings.py sets, nor a developer's shell can leak in).

The settings also read ``BASE_DIR / ".env"``, and a developer's real .env (written by
``make run``) may sit in the project root with a SECRET_KEY in it. It would fill in exactly
what these tests leave out, so "no SECRET_KEY" could never fail there. Rather than test
around it, each test runs a copy of the ``bookstore`` package in a temporary directory:
BASE_DIR is then that directory, whose .env the test controls (none, or one it writes).
The project root stays on PYTHONPATH, after the copy, for the ``core`` and ``books`` apps.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Keys strong enough for DEBUG off: 50 characters or more, not a placeholder.
KEY = "settings-tests-only-0123456789-abcdefghijklmnopqrstuvwxyz"
FROM_ENVIRONMENT = "from-the-environment-0123456789-abcdefghijklmnopqrstuvwxyz"
FROM_DOT_ENV = "from-dot-env-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG"

PROBE = """
import json
import django
from django.conf import settings
django.setup()
import bookstore.settings as module
db = settings.DATABASES["default"]
cache = settings.CACHES["default"]
print(json.dumps({
    "module": module.__file__,
    "DEBUG": settings.DEBUG,
    "SECRET_KEY": settings.SECRET_KEY,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "db": {k: db.get(k) for k in ("ENGINE", "NAME", "USER", "HOST", "PORT", "CONN_MAX_AGE",
                                  "CONN_HEALTH_CHECKS", "OPTIONS")},
    "cache": {"BACKEND": cache["BACKEND"], "LOCATION": cache.get("LOCATION")},
    "REQUEST_BODY_MAX_BYTES": settings.REQUEST_BODY_MAX_BYTES,
    "DATA_UPLOAD_MAX_MEMORY_SIZE": settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    "NUM_PROXIES": settings.REST_FRAMEWORK["NUM_PROXIES"],
    "SECURE_PROXY_SSL_HEADER": getattr(settings, "SECURE_PROXY_SSL_HEADER", None),
}))
"""


def copy_settings_package(directory: Path) -> Path:
    """A copy of the settings package whose BASE_DIR (and so whose .env) is ``directory``."""
    shutil.copytree(
        PROJECT_ROOT / "bookstore",
        directory / "bookstore",
        ignore=shutil.ignore_patterns("__pycache__", "tests"),
    )
    return directory


def run_with_settings(
    base_dir: Path, code: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code args`` with the settings copy in ``base_dir``, given ``env`` alone."""
    environment = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "bookstore.settings",
        # `python -c` puts the working directory (the copy) first on sys.path.
        "PYTHONPATH": str(PROJECT_ROOT),
        **env,
    }
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", code, *args],
        cwd=base_dir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    return copy_settings_package(tmp_path)


def load_settings(base_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_with_settings(base_dir, PROBE, **env)


def loaded(base_dir: Path, **env: str) -> dict[str, Any]:
    result = load_settings(base_dir, **env)
    assert result.returncode == 0, result.stderr
    values: dict[str, Any] = json.loads(result.stdout)
    # The copy was loaded, so its BASE_DIR, not the project root's .env, was read.
    assert Path(values["module"]).resolve().is_relative_to(base_dir.resolve())
    return values


# --- SECRET_KEY and DEBUG -------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [{}, {"DEBUG": "0"}, {"DEBUG": "false"}, {"DEBUG": "off"}, {"SECRET_KEY": ""}],
    ids=["debug-unset", "debug-0", "debug-false", "debug-off", "secret-key-empty"],
)
def test_settings_refuse_to_load_without_secret_key_when_debug_is_off(
    base_dir: Path, env: dict[str, str]
) -> None:
    result = load_settings(base_dir, **env)

    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY must be set" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "key",
    [
        "change-me",
        "secret",
        "x" * 49,  # too short
        "a" * 60,  # long, but one character
        "django-insecure-" + "0123456789abcdefghijklmnopqrstuvwxyz0123456789",
        "CHANGE-ME",
    ],
    ids=["change-me", "secret", "49-characters", "one-character", "django-insecure", "upper"],
)
def test_settings_refuse_a_weak_secret_key_when_debug_is_off(base_dir: Path, key: str) -> None:
    result = load_settings(base_dir, SECRET_KEY=key)

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is too weak" in result.stderr


def test_a_weak_secret_key_is_allowed_with_debug_on(base_dir: Path) -> None:
    """`make dev` and local experiments: DEBUG on never serves real users."""
    assert loaded(base_dir, SECRET_KEY="change-me", DEBUG="1")["SECRET_KEY"] == "change-me"


# --- proxies: none unless declared ----------------------------------------------------------


def test_without_a_declared_proxy_forwarded_headers_are_not_trusted(base_dir: Path) -> None:
    values = loaded(base_dir, SECRET_KEY=KEY)

    assert values["NUM_PROXIES"] == 0
    assert values["SECURE_PROXY_SSL_HEADER"] is None


def test_a_declared_proxy_is_trusted_for_the_scheme_too(base_dir: Path) -> None:
    values = loaded(base_dir, SECRET_KEY=KEY, NUM_PROXIES="1")

    assert values["NUM_PROXIES"] == 1
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.mark.parametrize("debug", ["1", "true", "on"])
def test_settings_load_without_secret_key_when_debug_is_on(base_dir: Path, debug: str) -> None:
    values = loaded(base_dir, DEBUG=debug)

    assert values["DEBUG"] is True
    assert values["SECRET_KEY"]  # a development-only key is filled in


def test_secret_key_from_the_environment_is_used_and_debug_defaults_off(
    base_dir: Path,
) -> None:
    values = loaded(base_dir, SECRET_KEY=FROM_ENVIRONMENT)

    assert values["SECRET_KEY"] == FROM_ENVIRONMENT
    assert values["DEBUG"] is False


def test_a_dot_env_beside_the_code_fills_in_the_secret_key(base_dir: Path) -> None:
    (base_dir / ".env").write_text(f"SECRET_KEY={FROM_DOT_ENV}\n")

    values = loaded(base_dir)

    assert values["SECRET_KEY"] == FROM_DOT_ENV
    assert values["DEBUG"] is False


def test_the_real_environment_wins_over_dot_env(base_dir: Path) -> None:
    (base_dir / ".env").write_text(f"SECRET_KEY={FROM_DOT_ENV}\nDEBUG=1\n")

    values = loaded(base_dir, SECRET_KEY=FROM_ENVIRONMENT, DEBUG="0")

    assert values["SECRET_KEY"] == FROM_ENVIRONMENT
    assert values["DEBUG"] is False


def test_allowed_hosts_default_to_local_and_come_from_the_environment(base_dir: Path) -> None:
    assert loaded(base_dir, SECRET_KEY=KEY)["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    assert loaded(base_dir, SECRET_KEY=KEY, ALLOWED_HOSTS="api.example.com,example.com")[
        "ALLOWED_HOSTS"
    ] == ["api.example.com", "example.com"]


# --- database -------------------------------------------------------------------------


def test_database_url_postgres_selects_the_postgresql_engine(base_dir: Path) -> None:
    db = loaded(base_dir, SECRET_KEY=KEY, DATABASE_URL="postgres://u@h:5432/db")["db"]

    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert db["NAME"] == "db"
    assert db["USER"] == "u"
    assert db["HOST"] == "h"
    assert int(db["PORT"]) == 5432
    assert db["CONN_MAX_AGE"] == 60
    assert db["CONN_HEALTH_CHECKS"] is False  # core.db_connections checks the socket instead


def test_conn_max_age_comes_from_the_environment(base_dir: Path) -> None:
    db = loaded(base_dir, SECRET_KEY=KEY, DATABASE_URL="postgres://u@h:5432/db", CONN_MAX_AGE="0")[
        "db"
    ]

    assert db["CONN_MAX_AGE"] == 0


def test_without_database_url_the_database_is_sqlite_beside_the_code(base_dir: Path) -> None:
    db = loaded(base_dir, SECRET_KEY=KEY)["db"]

    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(db["NAME"]).resolve() == (base_dir / "db.sqlite3").resolve()
    # Several server threads write: take the lock at BEGIN and wait for it.
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert db["OPTIONS"]["timeout"] == 20
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert db["CONN_MAX_AGE"] == 0


# --- cache ----------------------------------------------------------------------------


def test_redis_url_selects_the_redis_cache(base_dir: Path) -> None:
    cache = loaded(base_dir, SECRET_KEY=KEY, REDIS_URL="redis://cache:6379/2")["cache"]

    assert cache == {
        "BACKEND": "core.cache_backends.RedisCache",
        "LOCATION": "redis://cache:6379/2",
    }


def test_without_redis_url_the_cache_is_local_memory(base_dir: Path) -> None:
    cache = loaded(base_dir, SECRET_KEY=KEY)["cache"]

    assert cache["BACKEND"] == "core.cache_backends.LocMemCache"


# --- request body limit ---------------------------------------------------------------


def test_request_body_limit_defaults_to_four_mebibytes(base_dir: Path) -> None:
    values = loaded(base_dir, SECRET_KEY=KEY)

    assert values["REQUEST_BODY_MAX_BYTES"] == 4 * 1024 * 1024
    assert values["DATA_UPLOAD_MAX_MEMORY_SIZE"] == 4 * 1024 * 1024


def test_request_body_limit_comes_from_the_environment(base_dir: Path) -> None:
    values = loaded(base_dir, SECRET_KEY=KEY, REQUEST_BODY_MAX_BYTES="4096")

    assert values["REQUEST_BODY_MAX_BYTES"] == 4096
    assert values["DATA_UPLOAD_MAX_MEMORY_SIZE"] == 4096


# --- read replicas --------------------------------------------------------------------

REPLICA_PROBE = """
import json
import django
from django.conf import settings
django.setup()
print(json.dumps({
    "DATABASES": {
        alias: {k: db.get(k) for k in ("ENGINE", "NAME", "HOST", "CONN_MAX_AGE",
                                       "CONN_HEALTH_CHECKS", "OPTIONS", "TEST")}
        for alias, db in settings.DATABASES.items()
    },
    "DATABASE_ROUTERS": settings.DATABASE_ROUTERS,
    "REPLICA_MAX_LAG_SECONDS": settings.REPLICA_MAX_LAG_SECONDS,
    "REPLICA_CHECK_INTERVAL_SECONDS": settings.REPLICA_CHECK_INTERVAL_SECONDS,
    "READ_YOUR_WRITES_SECONDS": settings.READ_YOUR_WRITES_SECONDS,
}))
"""

PRIMARY_URL = "postgres://u@primary:5432/db"
TWO_REPLICAS = "postgres://u@replica-a:5432/db,postgres://u@replica-b:5433/db"


def replica_settings(base_dir: Path, **env: str) -> dict[str, Any]:
    result = run_with_settings(base_dir, REPLICA_PROBE, SECRET_KEY=KEY, **env)
    assert result.returncode == 0, result.stderr
    values: dict[str, Any] = json.loads(result.stdout)
    return values


def test_each_replica_url_becomes_a_replica_alias_read_through_the_router(base_dir: Path) -> None:
    values = replica_settings(
        base_dir,
        DATABASE_URL=PRIMARY_URL,
        DATABASE_REPLICA_URLS=TWO_REPLICAS,
        REDIS_URL="redis://cache:6379/0",
        CONN_MAX_AGE="30",
        CONN_HEALTH_CHECKS="0",
    )
    databases = values["DATABASES"]

    assert list(databases) == ["default", "replica_1", "replica_2"]
    assert values["DATABASE_ROUTERS"] == ["core.replicas.routing.ReplicaRouter"]
    for alias, host in [("replica_1", "replica-a"), ("replica_2", "replica-b")]:
        replica = databases[alias]
        assert replica["ENGINE"] == "django.db.backends.postgresql"
        assert (replica["HOST"], replica["NAME"]) == (host, "db")
        # Connected as the primary is: persistence, health checks, the connect timeout.
        assert replica["CONN_MAX_AGE"] == 30
        assert replica["CONN_HEALTH_CHECKS"] is False
        assert replica["OPTIONS"] == databases["default"]["OPTIONS"]
        assert replica["OPTIONS"]["connect_timeout"] == 1
        # Test runs read the test database through the alias: no database of its own.
        assert replica["TEST"]["MIRROR"] == "default"
    assert (values["REPLICA_MAX_LAG_SECONDS"], values["REPLICA_CHECK_INTERVAL_SECONDS"]) == (2, 1)
    assert values["READ_YOUR_WRITES_SECONDS"] == 5


def test_without_replica_urls_there_is_no_replica_and_no_router(base_dir: Path) -> None:
    for env in ({}, {"DATABASE_URL": PRIMARY_URL, "REDIS_URL": "redis://cache:6379/0"}):
        values = replica_settings(base_dir, **env)

        assert list(values["DATABASES"]) == ["default"]
        assert values["DATABASE_ROUTERS"] == []


def test_the_read_your_writes_window_may_equal_the_lag_bound_plus_twice_the_check_interval(
    base_dir: Path,
) -> None:
    values = replica_settings(
        base_dir,
        DATABASE_URL=PRIMARY_URL,
        DATABASE_REPLICA_URLS=TWO_REPLICAS,
        REDIS_URL="redis://cache:6379/0",
        REPLICA_MAX_LAG_SECONDS="3",
        REPLICA_CHECK_INTERVAL_SECONDS="0.5",
        READ_YOUR_WRITES_SECONDS="4",
    )

    assert values["READ_YOUR_WRITES_SECONDS"] == 4


def test_a_replica_keeps_its_own_url_options_and_the_primarys_others_but_not_read_write_only(
    base_dir: Path,
) -> None:
    values = replica_settings(
        base_dir,
        DATABASE_URL=f"{PRIMARY_URL}?target_session_attrs=read-write&connect_timeout=3",
        DATABASE_REPLICA_URLS=(
            "postgres://u@replica-a:5432/db?sslmode=require&connect_timeout=5,"
            "postgres://u@replica-b:5432/db"
        ),
        REDIS_URL="redis://cache:6379/0",
    )
    databases = values["DATABASES"]

    assert databases["default"]["OPTIONS"] == {
        "target_session_attrs": "read-write",
        "connect_timeout": 3,
    }
    # target_session_attrs=read-write would refuse every standby.
    assert databases["replica_1"]["OPTIONS"] == {"sslmode": "require", "connect_timeout": 5}
    assert databases["replica_2"]["OPTIONS"] == {"connect_timeout": 3}


REFUSED_REPLICA_URLS = {
    "not-postgres": "mysql://u@replica-a:3306/db",
    "no-host": "postgres:///db",
    "multi-host-with-ports": "postgres://u@replica-a:5432,replica-b:5432/db",
    "multi-host": "postgres://u@replica-a,replica-b/db",
}


@pytest.mark.parametrize("url", REFUSED_REPLICA_URLS.values(), ids=REFUSED_REPLICA_URLS.keys())
def test_settings_refuse_a_replica_url_that_names_no_single_postgresql_host(
    base_dir: Path, url: str
) -> None:
    # A multi-host URL is split at its comma, into a URL with no scheme or no host.
    result = run_with_settings(
        base_dir,
        REPLICA_PROBE,
        SECRET_KEY=KEY,
        DATABASE_URL=PRIMARY_URL,
        DATABASE_REPLICA_URLS=url,
        REDIS_URL="redis://cache:6379/0",
    )

    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    assert "DATABASE_REPLICA_URLS: replica " in result.stderr
    assert "is not a postgres:// URL with a host and a database name" in result.stderr
    assert result.stdout == ""


REPLICAS_WITH_REDIS = {
    "DATABASE_URL": PRIMARY_URL,
    "DATABASE_REPLICA_URLS": TWO_REPLICAS,
    "REDIS_URL": "redis://cache:6379/0",
}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"DATABASE_REPLICA_URLS": TWO_REPLICAS, "REDIS_URL": "redis://cache:6379/0"},
            "DATABASE_REPLICA_URLS needs a PostgreSQL DATABASE_URL.",
        ),
        (
            {"DATABASE_URL": PRIMARY_URL, "DATABASE_REPLICA_URLS": TWO_REPLICAS},
            "DATABASE_REPLICA_URLS needs REDIS_URL.",
        ),
        (
            {
                "DATABASE_URL": PRIMARY_URL,
                "DATABASE_REPLICA_URLS": TWO_REPLICAS,
                "REDIS_URL": "redis://cache:6379/0",
                # Enough for one interval past the lag bound (2 + 1), not for two.
                "READ_YOUR_WRITES_SECONDS": "3.9",
            },
            "READ_YOUR_WRITES_SECONDS must be at least REPLICA_MAX_LAG_SECONDS + "
            "twice REPLICA_CHECK_INTERVAL_SECONDS",
        ),
        (
            {**REPLICAS_WITH_REDIS, "REPLICA_CHECK_INTERVAL_SECONDS": "0"},
            "REPLICA_CHECK_INTERVAL_SECONDS must be above 0",
        ),
        (
            {**REPLICAS_WITH_REDIS, "REPLICA_CHECK_INTERVAL_SECONDS": "-1"},
            "REPLICA_CHECK_INTERVAL_SECONDS must be above 0",
        ),
        (
            {**REPLICAS_WITH_REDIS, "REPLICA_MAX_LAG_SECONDS": "-1"},
            "REPLICA_MAX_LAG_SECONDS at least 0",
        ),
    ],
    ids=[
        "sqlite-primary",
        "no-redis",
        "window-shorter-than-lag-plus-twice-interval",
        "interval-zero",
        "interval-negative",
        "lag-negative",
    ],
)
def test_settings_refuse_replicas_that_cannot_keep_their_promises(
    base_dir: Path, env: dict[str, str], message: str
) -> None:
    result = run_with_settings(base_dir, REPLICA_PROBE, SECRET_KEY=KEY, **env)

    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    assert message in result.stderr
    assert result.stdout == ""
