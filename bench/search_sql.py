"""The search scenarios' SQL alone: what PostgreSQL can give them, with no server in the way.

Issue 14 bounds a search at p99 < 50 ms at 32 connections. ``make bench`` measures that
through the whole stack (wrk, the server, PostgreSQL); this measures the database's part on its
own, so the two can be told apart: if PostgreSQL alone, fed the very statements the server
sends, cannot answer 32 clients within the bound, no server in front of it can.

For each search scenario of ``make bench`` (bench/search_scenarios.py; the same queries, made
from the same catalogue), a sample of its paths is requested in-process through our WSGI
application with the read cache off: once to warm what a server process remembers (the plan
choice of books/search/ranking.py), then again with the SQL captured. Each request's statements
(with its BEGIN/COMMIT when the search ran under its deadline) become one pgbench script, and
pgbench runs them all, picked at random, at 1 client (the statements' own latency) and at 32
(the bound's concurrency) for a fixed time; pgbench's per-transaction log gives p50 and p99,
and /proc the CPU PostgreSQL spent per search.

    .venv/bin/python bench/search_sql.py --rows 1000000 [--seed 0] [--sample 40] \
        [--seconds 10] [--only search_common,...]

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench_search_sql) must hold the
catalogue of ``bench/data.py`` for those rows and seed, as ``make bench`` loads it: a database
named ``bench...`` that does not is recreated and loaded through ``migrate`` and
``import_books`` (2 to 3 minutes for 1,000,000 rows here), and kept for the next run; any other is
only read (every request is a GET). Results go to bench/results/search-sql-<timestamp>.json.
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import cpu, databases  # noqa: E402
from bench import search_scenarios as search  # noqa: E402
from bench.data import SearchProbes, write_catalogue  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_search_sql"
SECRET_KEY = "bench-only-fixed-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
CLIENTS = (1, 32)
#: All but the broadest searches, whose bound is the statement timeout, not p99: cancelled
#: statements are what they are expected to meet, and pgbench aborts a client on each.
DEFAULT_SCENARIOS = [name for name in search.SCENARIOS if name != search.WORST]
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def environment(database_url: str) -> dict[str, str]:
    """Production settings against ``database_url`` with the read cache off: every request
    searches, as in the cache-off scenarios."""
    return {
        "DJANGO_SETTINGS_MODULE": "bookstore.settings",
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "READ_CACHE_ENABLED": "false",
        "THROTTLE_ANON_RATE": "100000000/min",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
    }


def books_held(database_url: str) -> int | None:
    """The books in ``database_url``, None if it or its table is missing."""
    try:
        return databases.id_range(database_url).count
    except psycopg.Error:
        return None


def load(database_url: str, catalogue: Path, rows: int) -> None:
    """Recreate the ``bench...`` database and load the catalogue as ``make bench`` does."""
    databases.recreate_database(database_url)  # refuses a name not starting with "bench"
    env = {**os.environ, **environment(database_url)}
    for arguments in (["migrate", "--noinput", "-v0"], ["import_books", str(catalogue)]):
        subprocess.run(  # noqa: S603 - our own command lines
            [sys.executable, str(ROOT / "manage.py"), *arguments], env=env, check=True, timeout=3600
        )
    held = books_held(database_url)
    if held != rows:
        raise RuntimeError(f"the import left {held} books, not {rows:,}")


def prepare(database_url: str, rows: int, seed: int) -> SearchProbes:
    """The scenarios' queries for the catalogue of ``rows`` and ``seed`` (regenerated: the
    generator is deterministic), with the catalogue loaded first where it is missing."""
    with tempfile.TemporaryDirectory(prefix="search-sql-") as directory:
        catalogue = write_catalogue(Path(directory) / "catalogue.csv", rows, seed)
        held = books_held(database_url)
        if held != rows:
            name = str(psycopg.conninfo.conninfo_to_dict(database_url).get("dbname"))
            if not name.startswith(databases.BENCH_DATABASE_PREFIX):
                raise RuntimeError(f"{database_url} holds {held} books, not {rows:,}")
            print(f"loading {rows:,} books into {database_url} (held: {held})", flush=True)
            load(database_url, catalogue.path, rows)
        return catalogue.probes


def configure(database_url: str) -> None:
    os.environ.update(environment(database_url))
    import django

    django.setup()
    import logging

    logging.disable(logging.CRITICAL)  # the access lines of thousands of in-process requests


class InProcess:
    """Our WSGI application called in this process (Django's test client: no server)."""

    def __init__(self) -> None:
        from django.test import Client

        self.client = Client(HTTP_ACCEPT="application/json")

    def get(self, path: str) -> search.Page:
        response = self.client.get(path)
        return search.Page.parse(response.status_code, response.content)

    def captured(self, path: str) -> tuple[int, list[str]]:
        """``path``'s status and the SQL it sent, in order."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            status = self.client.get(path).status_code
        return status, [query["sql"] for query in queries.captured_queries]


def deep_paths(client: InProcess, words: list[str]) -> list[str]:
    """The deep scenario's pages, walked and kept as the benchmark does (its links are this
    process's own, signed with this key)."""
    return [
        path
        for word in words
        for path in search.kept_pages(
            search.walk_next(client, search.search_path(word), search.DEEP_PAGES)
        )
    ]


def spread(paths: list[str], count: int) -> list[str]:
    """Up to ``count`` paths taken evenly through ``paths`` (each query's pages and kinds)."""
    if len(paths) <= count:
        return paths
    step = len(paths) / count
    return [paths[int(index * step)] for index in range(count)]


def script(statements: list[str]) -> str:
    """One request's statements as a pgbench script, BEGIN and COMMIT included (Django records
    them): a search under its deadline runs in a transaction."""
    return "".join(statement.rstrip().rstrip(";") + ";\n" for statement in statements)


def percentile(ordered: list[float], share: float) -> float:
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return ordered[index]


def transactions(directory: Path) -> Iterator[tuple[float, float | None]]:
    """(when it ended, epoch seconds; latency in ms, None if it failed) of every transaction in
    pgbench's logs: "client transaction latency_us script epoch epoch_us"."""
    for log in directory.glob("pgbench_log*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) < 6:
                continue
            ended = int(fields[4]) + int(fields[5]) / 1e6
            yield ended, None if fields[2] == "failed" else int(fields[2]) / 1000


def run_pgbench(
    database_url: str, scripts: list[Path], clients: int, seconds: int
) -> dict[str, Any]:
    """pgbench over ``scripts`` at ``clients`` for ``seconds``: rate, p50, p99, and the CPU
    PostgreSQL spent per transaction. The CPU is read while pgbench's connections are still
    open (a backend's ticks go with it when it exits), a second before the end, and divided by
    the transactions ended by then."""
    with tempfile.TemporaryDirectory(prefix="search-sql-log-") as logs:
        command = ["pgbench", "-n", "-c", str(clients), "-j", str(min(clients, 2))]
        command += ["-T", str(seconds), "--log", f"--log-prefix={logs}/pgbench_log"]
        for path in scripts:
            command += ["-f", str(path)]
        command.append(database_url)
        errors = Path(logs) / "stderr"  # a file: PostgreSQL's notices would fill a pipe
        before = cpu.snapshot()
        with errors.open("w") as stderr:
            pgbench = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)  # noqa: S603
            try:
                time.sleep(max(1, seconds - 1))
                spent = cpu.seconds_by_role(before, cpu.snapshot(), server_group=-1)
                read_at = time.time()
                pgbench.wait(timeout=seconds + 120)
            finally:
                pgbench.kill()
        # A statement cancelled by the search's statement_timeout aborts its pgbench client:
        # reported with the figures (the server would have answered 503), not hidden.
        failure = errors.read_text().strip().splitlines()[-1:] if pgbench.returncode else []
        logged = list(transactions(Path(logs)))
    done = sorted(ms for _, ms in logged if ms is not None)
    by_reading = sum(1 for ended, ms in logged if ms is not None and ended <= read_at)
    if not done or not by_reading:
        raise RuntimeError("pgbench logged no transaction")
    return {
        "clients": clients,
        "seconds": seconds,
        "transactions": len(done),
        "failed": len(logged) - len(done),
        "aborted": failure[0] if failure else None,
        "per_second": round(len(done) / seconds, 1),
        "mean_ms": round(statistics.fmean(done), 2),
        "p50_ms": round(percentile(done, 0.50), 2),
        "p99_ms": round(percentile(done, 0.99), 2),
        "postgres_cpu_ms": round(1000 * spent["postgres"] / by_reading, 3),
        "pgbench_cpu_ms": round(1000 * spent["other"] / by_reading, 3),
    }


def scenario_paths(probes: SearchProbes, client: InProcess, only: set[str]) -> dict[str, list[str]]:
    paths = {name: values for name, values in search.scenario_paths(probes).items() if name in only}
    if search.DEEP in only and probes.deep_words:
        paths[search.DEEP] = deep_paths(client, probes.deep_words)
    return paths


def measure(
    database_url: str, name: str, paths: list[str], client: InProcess, seconds: int, workdir: Path
) -> dict[str, Any]:
    expected = {200, *(int(status) for status in search.EXPECTED_STATUSES.get(name, ()))}
    scripts: list[Path] = []
    statements = 0
    for number, path in enumerate(paths):
        client.get(path)  # what a server process remembers after its first request
        status, sql = client.captured(path)
        if status not in expected:
            raise RuntimeError(f"{name}: {path} answered {status}")
        statements += len(sql)
        scripts.append(workdir / f"{name}-{number}.sql")
        scripts[-1].write_text(script(sql))
    entry: dict[str, Any] = {
        "paths": len(paths),
        "statements_per_search": round(statements / len(paths), 2),
        "runs": [run_pgbench(database_url, scripts, clients, seconds) for clients in CLIENTS],
    }
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True, help="the catalogue's rows")
    parser.add_argument("--seed", type=int, default=0, help="the catalogue's seed")
    parser.add_argument("--sample", type=int, default=40, help="paths a scenario (at most)")
    parser.add_argument("--seconds", type=int, default=10, help="each pgbench run")
    parser.add_argument("--only", default=",".join(DEFAULT_SCENARIOS), help="scenarios")
    parser.add_argument("--keep", type=Path, help="write the pgbench scripts here, and keep them")
    arguments = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if urlsplit(database_url).hostname not in _LOOPBACK:
        parser.error("DATABASE_URL must name a PostgreSQL on the loopback")
    if shutil.which("pgbench") is None:
        parser.error("pgbench is not installed (Debian: postgresql-client)")
    only = {name for name in arguments.only.split(",") if name in search.SCENARIOS}
    started = time.perf_counter()
    probes = prepare(database_url, arguments.rows, arguments.seed)
    load_before = os.getloadavg()
    configure(database_url)
    client = InProcess()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="search-sql-scripts-") as directory:
        if arguments.keep:
            arguments.keep.mkdir(parents=True, exist_ok=True)
            directory = str(arguments.keep)
        for name, paths in scenario_paths(probes, client, only).items():
            sample = spread(paths, arguments.sample)
            if not sample:
                continue
            results[name] = measure(
                database_url, name, sample, client, arguments.seconds, Path(directory)
            )
            print(describe(name, results[name]), flush=True)
    result = {
        "kind": "search-sql",
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "rows": arguments.rows,
        "seed": arguments.seed,
        "target": f"p99 < {search.TARGET_P99_MS:g} ms at 32 connections",
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "cpus": os.cpu_count(),
        "seconds": round(time.perf_counter() - started, 1),
        "scenarios": results,
    }
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"search-sql-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"load average {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}; results: {path}")
    return 0


def describe(name: str, entry: dict[str, Any]) -> str:
    runs = "; ".join(
        f"{run['clients']:>2} client{'s' if run['clients'] > 1 else ' '}: "
        f"{run['per_second']:>7,.1f}/s p50 {run['p50_ms']:>6.1f} p99 {run['p99_ms']:>6.1f} ms, "
        f"PostgreSQL {run['postgres_cpu_ms']:.2f} ms CPU"
        + (f" (pgbench aborted: {run['aborted']})" if run["aborted"] else "")
        for run in entry["runs"]
    )
    return (
        f"{name:<15} {entry['paths']:>3} paths, {entry['statements_per_search']} statements; {runs}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
