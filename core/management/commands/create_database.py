"""manage.py create_database: create the PostgreSQL database DATABASE_URL names, when missing.

`make run` runs it before `migrate`, so `DATABASE_URL=postgres://.../bookstore make run` works
on a fresh server; without it, migrate's first connection fails with a long traceback. What it
cannot do (no server there, no right to create databases) it says in one line, with the fix.
"""

from typing import Any

import psycopg
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import errors, sql

#: Where a server is asked about its databases: every PostgreSQL cluster has it.
MAINTENANCE_DATABASE = "postgres"


class Command(BaseCommand):
    help = (
        "Create the PostgreSQL database that DATABASE_URL names if it does not exist yet "
        "(connecting to the server's 'postgres' database as the same user). SQLite needs "
        "nothing: its file is made by the first connection."
    )
    # The checks may connect to the database this command is here to create.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="which DATABASES entry")

    def handle(self, *args: Any, database: str, **options: Any) -> None:
        settings_dict = connections[database].settings_dict
        if connections[database].vendor != "postgresql":
            self.stdout.write(f"{connections[database].vendor}: nothing to create.")
            return
        name = str(settings_dict["NAME"])
        user = settings_dict.get("USER") or ""
        host = settings_dict.get("HOST") or "localhost"
        port = str(settings_dict.get("PORT") or 5432)
        parameters = {
            "dbname": MAINTENANCE_DATABASE,
            "user": user or None,
            "password": settings_dict.get("PASSWORD") or None,
            "host": host,
            "port": port,
            "connect_timeout": (settings_dict.get("OPTIONS") or {}).get("connect_timeout", 5),
        }
        try:
            with psycopg.connect(**parameters, autocommit=True) as connection:
                found = connection.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [name]
                ).fetchone()
                if found:
                    self.stdout.write(f"Database {name!r} exists.")
                    return
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except errors.DuplicateDatabase:  # created meanwhile by someone else: what we wanted
            pass
        except errors.InsufficientPrivilege as error:
            raise CommandError(
                f"user {user or '(default)'} may not create database {name!r} "
                f"({first_line(error)}): create it as a user who may: "
                f"createdb -h {host} -p {port} -O {user or '<user>'} {name}"
            ) from error
        except psycopg.OperationalError as error:
            raise CommandError(
                f"cannot reach PostgreSQL at {host}:{port} as {user or '(default user)'} "
                f"({first_line(error)}): start it, or fix DATABASE_URL"
            ) from error
        self.stdout.write(f"Created database {name!r}.")


def first_line(error: Exception) -> str:
    """libpq's messages run over several lines; the first says what went wrong."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
