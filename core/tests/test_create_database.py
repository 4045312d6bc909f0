"""manage.py create_database, which `make run` runs before migrate: the README's
`DATABASE_URL=postgres://.../bookstore make run` works on a server without that database, and
what the command cannot fix it says in one line.

Each test runs the command as `make run` does, in a process of its own with DATABASE_URL set.
The creation is tested against the PostgreSQL server of a PostgreSQL test run (CI's second
pass); on SQLite, where there is nothing to create, the command must say so and succeed.
"""

import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

from harness.app import PROJECT_DIRECTORY, server_environment
from harness.ports import free_port


def create_database(database_url: str) -> subprocess.CompletedProcess[str]:
    environment = server_environment(
        {
            "DJANGO_SETTINGS_MODULE": "bookstore.settings",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "0",
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
        }
    )
    return subprocess.run(
        [sys.executable, "manage.py", "create_database"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_DIRECTORY,
        env=environment,
        check=False,
    )


def server_url(name: str) -> str:
    """This test run's PostgreSQL server, as a DATABASE_URL for database `name`."""
    settings_dict = connection.settings_dict
    credentials = quote(settings_dict["USER"] or "")
    if settings_dict.get("PASSWORD"):
        credentials += ":" + quote(settings_dict["PASSWORD"])
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}@{host}:{port}/{name}"


def database_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


@pytest.mark.django_db
def test_the_database_database_url_names_exists_afterwards(tmp_path: Path) -> None:
    if connection.vendor != "postgresql":
        result = create_database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "sqlite: nothing to create."
        return
    name = f"create_database_test_{secrets.token_hex(4)}"
    assert not database_exists(name)
    try:
        first = create_database(server_url(name))
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == f"Created database {name!r}."
        assert database_exists(name)
        again = create_database(server_url(name))  # `make run` a second time
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == f"Database {name!r} exists."
    finally:
        with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_no_server_is_one_line_that_says_what_to_do() -> None:
    port = free_port()  # nothing listens there
    result = create_database(f"postgres://postgres@127.0.0.1:{port}/bookstore")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"CommandError: cannot reach PostgreSQL at 127.0.0.1:{port}")
    assert lines[0].endswith("start it, or fix DATABASE_URL")


def test_make_run_creates_the_database_before_it_migrates() -> None:
    makefile = (PROJECT_DIRECTORY / "Makefile").read_text()
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    commands = [
        line.split("manage.py ", 1)[1] for line in recipe.splitlines() if "manage.py" in line
    ]
    assert commands.index("create_database") < commands.index("migrate --noinput"), recipe
