"""Who ran what: statement counts per PostgreSQL server, and the app's per-alias counters.

Two independent measurements of the same thing. pg_stat_statements, on each server, counts
the statements it executed (the replica counts its own: the extension's counters live in each
server's shared memory); `django_db_execute_total{alias=...}` on each instance's /metrics
counts what Django sent to each alias.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg

#: Statements that touch the catalogue table, by command. Constants are normalised away by
#: pg_stat_statements, so this query's own text ("... LIKE $1 ...") never matches itself.
_BOOK_STATEMENTS = """
SELECT lower(split_part(ltrim(query), ' ', 1)) AS command, sum(calls)::bigint
FROM pg_stat_statements
WHERE query LIKE '%books_book%' AND query NOT LIKE '%pg_stat_statements%'
GROUP BY 1
"""
WRITE_COMMANDS = ("insert", "update", "delete")


@dataclass(frozen=True)
class StatementCounts:
    """Calls of statements on books_book on one server, by command (select, insert, ...)."""

    by_command: dict[str, int]

    @property
    def selects(self) -> int:
        return self.by_command.get("select", 0)

    @property
    def writes(self) -> int:
        return sum(self.by_command.get(command, 0) for command in WRITE_COMMANDS)

    def as_dict(self) -> dict[str, Any]:
        return {"selects": self.selects, "writes": self.writes, "by_command": self.by_command}


def reset_statements(*connections: psycopg.Connection[Any]) -> None:
    """Zero pg_stat_statements on each server (a hot standby allows it: shared memory only)."""
    for connection in connections:
        connection.execute("SELECT pg_stat_statements_reset()")


def book_statements(connection: psycopg.Connection[Any]) -> StatementCounts:
    rows = connection.execute(_BOOK_STATEMENTS).fetchall()
    return StatementCounts({str(command): int(calls) for command, calls in rows})


# --- the app's /metrics --------------------------------------------------------------

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text: str, name: str) -> Iterable[tuple[dict[str, str], float]]:
    """The samples of metric `name` in a Prometheus text page, with their labels."""
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match.group("name") == name:
            labels = dict(_LABEL.findall(match.group("labels") or ""))
            yield labels, float(match.group("value"))


def gauge_value(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample of `name` with these labels; None if there is none."""
    for sample_labels, value in samples(text, name):
        if all(sample_labels.get(key) == wanted for key, wanted in labels.items()):
            return value
    return None


def queries_by_alias(text: str) -> dict[str, float]:
    """django_db_execute_total per database alias, summed over vendors."""
    totals: dict[str, float] = {}
    for labels, value in samples(text, "django_db_execute_total"):
        alias = labels.get("alias", "")
        totals[alias] = totals.get(alias, 0.0) + value
    return totals


def difference(after: dict[str, float], before: dict[str, float]) -> dict[str, int]:
    return {alias: round(after[alias] - before.get(alias, 0.0)) for alias in sorted(after)}
