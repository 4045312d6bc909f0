"""Load benchmark of the API (``make bench``): ours against the lecture's code and a ceiling.

One deterministic catalogue of N books (default 100,000) is loaded into every system:

- ours: the production server (harness/app.py) on PostgreSQL and Redis, loaded through
  ``manage.py import_books`` and measured as that import leaves the table (no VACUUM ANALYZE
  of the benchmark's own: the importer's ANALYZE is what a fresh import gets);
- production reference: the lecture's code with DEBUG off, PageNumberPagination and persistent
  database connections, PostgreSQL (loaded by COPY, then VACUUM ANALYZE: its strongest honest
  configuration), on each of bench.servers.REFERENCE_SERVERS
  (gunicorn with 2 sync workers; granian as ours runs): each scenario credits it with its best;
- seed: the lecture's code exactly as written, ``manage.py runserver`` on SQLite, DEBUG on;
- ceiling: a bare WSGI app with a fixed 300-byte body (bench/ceiling.py) on our server.

Each server runs alone while wrk drives it from another process over loopback (bench/lua).
Ours also runs the search scenarios of bench/search_scenarios.py (two common words, a rare
word, a one-letter word, a misspelling, an accent typed plain, a hyphenated ISBN, a deep
relevance page, the broadest search) on its server with the read cache off, each against the
target "p99 < 50 ms"; QUICK runs them too, on its small catalogue and for its short time.
Prints one table (requests/s, p50, p99, errors, ratios of ours to each), the search scenarios
against their targets, our workers' memory, and writes everything to
bench/results/<timestamp>.json and bench/results/latest.json.

    .venv/bin/python bench/run.py [--rows N] [--quick] [--duration S] [--connections C]
        [--only ours,ceiling] [--soak SECONDS] [--compare bench/results/OLD.json]

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench_ours) is our database and
names the server of the reference's (bench_reference); both are created and dropped by the
run. REDIS_URL (default redis://127.0.0.1:6379/9) is emptied before and after.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import cpu, databases, report, servers  # noqa: E402 - needs ROOT on the path
from bench import search_scenarios as search  # noqa: E402
from bench.data import Catalogue, write_catalogue  # noqa: E402
from bench.deep_cursors import DEEP_PAGES, deep_positions  # noqa: E402
from bench.wrk import Load, LoadResult, LoadShape, run_wrk  # noqa: E402
from harness import app as harness_app  # noqa: E402
from harness.ports import free_port  # noqa: E402
from harness.processes import Server, rss_kib  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_ours"
REFERENCE_DATABASE = "bench_reference"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
#: Our WSGI application, as production serves it.
OUR_APP = "bookstore.wsgi:application"
#: Seconds a server may take to be ready (a cold start on a big catalogue) and to stop.
READY_TIMEOUT = 90
STOP_TIMEOUT = 20
#: The reference's list pages (PageNumberPagination's PAGE_SIZE in the seed's settings).
REFERENCE_PAGE_SIZE = 20
# A fixed key, so the cursors made before the server starts verify in it. Not a secret.
SECRET_KEY = "bench-only-fixed-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
# One loopback client is every request: the default throttles would turn it away.
UNTHROTTLED = "100000000/min"
#: Books whose detail the "hot cache" scenario reads (all of them below this).
HOT_IDS = 10_000
#: Above this many rows the seed's unpaginated list (the whole table per request) is skipped.
SEED_LIST_MAX_ROWS = 200_000
#: The soak samples memory, and starts a new wrk run, this often.
SOAK_SAMPLE_SECONDS = 10.0
#: Growth beyond this fraction of the level after the first minute counts as growing memory.
SOAK_GROWTH_LIMIT = 0.10

SYSTEMS = report.SYSTEMS
SCENARIOS = {
    "detail": "detail, random id (hot cache)",
    "detail_uncached": "detail, random id (cache off)",
    "list_first": "list, first page",
    "list_deep": "list, deep page",
    "search": "search: 2 words + author",
    # Ours only, with the read cache off, then on (bench/search_scenarios.py).
    **search.ALL,
    "create": "create (POST)",
    "update": "update (PATCH)",
    "ceiling": "ceiling: fixed 300-byte body",
}


@dataclass
class Options:
    rows: int
    duration: float
    warmup: float
    connections: int
    threads: int
    systems: tuple[str, ...]
    soak: float
    compare: Path | None
    seed: int
    workers: int | None


@dataclass
class Prepared:
    """Everything a system's load needs: where its books' ids are, and its paths files."""

    low_id: int = 0
    high_id: int = 0
    deep_paths: Path | None = None
    search_paths: Path | None = None
    #: The search scenarios' paths files (bench/search_scenarios.py), all but the deep pages'.
    search_scenario_paths: dict[str, Path] = field(default_factory=dict)
    token: str = ""
    load_seconds: float = 0.0

    @property
    def headers(self) -> dict[str, str]:
        """The writes' headers: our token where there is one (the lecture's code needs none)."""
        return {"Authorization": f"Token {self.token}"} if self.token else {}


@dataclass
class Run:
    """State of one benchmark run, kept for the results file and for cleaning up."""

    options: Options
    workdir: Path
    database_url: str
    reference_url: str
    redis_url: str
    measurements: report.Measurements = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    ports: set[int] = field(default_factory=set)
    isbn_prefixes: Iterator[int] = field(default_factory=lambda: iter(()))
    #: What a sample of each search scenario's paths answered before its run.
    search_checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    search_deep: dict[str, Any] = field(default_factory=dict)
    #: Each search scenario's file of paths, the deep pages' walked once a run.
    search_files: dict[str, Path] | None = None
    catalogue: Catalogue | None = None

    @cached_property
    def first_page(self) -> Path:
        """The paths file of the list's first page (written once, read by every system)."""
        return write_paths(self.workdir / "first-page.txt", ["/books/"])

    def log(self, message: str) -> None:
        print(message, flush=True)

    def note(self, message: str) -> None:
        self.notes.append(message)
        self.log(f"  note: {message}")

    def record(self, scenario: str, system: str, entry: dict[str, Any]) -> None:
        self.measurements.setdefault(scenario, {})[system] = entry

    def skip(self, scenario: str, system: str, reason: str) -> None:
        self.record(scenario, system, {"skipped": reason})


# --- arguments ---------------------------------------------------------------------------


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, help="books to load (default 100,000; quick 2,000)")
    parser.add_argument("--quick", action="store_true", help="CI smoke run: small and short")
    parser.add_argument("--duration", type=float, help="seconds per scenario (default 10)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up before each scenario")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (at most 10)")
    parser.add_argument(
        "--only", default=",".join(SYSTEMS), help=f"systems to run, of {','.join(SYSTEMS)}"
    )
    parser.add_argument("--soak", type=float, default=0, help="seconds of mixed load on ours")
    parser.add_argument("--compare", type=Path, help="an earlier results JSON to compare ours to")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated catalogue")
    parser.add_argument("--workers", type=int, help="our WEB_CONCURRENCY (default: production's)")
    arguments = parser.parse_args(argv)
    systems = tuple(name.strip() for name in arguments.only.split(",") if name.strip())
    unknown = set(systems) - set(SYSTEMS)
    if unknown or not systems:
        parser.error(f"--only takes some of {', '.join(SYSTEMS)}; not {', '.join(unknown)}")
    if not 1 <= arguments.threads <= 10:
        parser.error("--threads must be 1 to 10 (each thread has one ISBN digit)")
    if arguments.connections < 1:
        parser.error("--connections must be at least 1")
    quick = bool(arguments.quick)
    rows = arguments.rows or (2_000 if quick else 100_000)
    if rows < 100:
        parser.error("--rows must be at least 100")
    return Options(
        rows=rows,
        duration=arguments.duration or (2.0 if quick else 10.0),
        warmup=arguments.warmup if arguments.warmup is not None else (0.0 if quick else 2.0),
        connections=arguments.connections,
        threads=arguments.threads,
        systems=tuple(name for name in SYSTEMS if name in systems),
        soak=arguments.soak,
        compare=arguments.compare,
        seed=arguments.seed,
        workers=arguments.workers,
    )


# --- environment and commands ------------------------------------------------------------


def our_environment(run: Run, *, read_cache: bool = True) -> dict[str, str]:
    """What our production server (and our management commands) get."""
    env = {
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": run.database_url,
        "REDIS_URL": run.redis_url,
        "THROTTLE_ANON_RATE": UNTHROTTLED,
        "THROTTLE_USER_RATE": UNTHROTTLED,
        "WRITE_QUOTA_PER_DAY": "0",  # no daily write quota: the benchmark's one user writes all
        "READ_CACHE_ENABLED": "true" if read_cache else "false",
        "DJANGO_SETTINGS_MODULE": "bookstore.settings",
    }
    if run.options.workers:
        env["WEB_CONCURRENCY"] = str(run.options.workers)
    return env


def run_command(
    command: list[str], *, env: dict[str, str], cwd: Path = ROOT, what: str
) -> subprocess.CompletedProcess[str]:
    """Run one of our or the seed's management commands; fail with its output."""
    completed = subprocess.run(  # noqa: S603 - our own command lines
        command,
        cwd=cwd,
        env=harness_app.server_environment(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"{what} failed ({completed.returncode}):\n{completed.stdout[-3000:]}\n"
            f"{completed.stderr[-3000:]}"
        )
    return completed


def manage(*arguments: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *arguments]


def seed_manage(*arguments: str) -> list[str]:
    return [sys.executable, str(servers.SEED_PROJECT / "manage.py"), *arguments]


# --- loading -----------------------------------------------------------------------------


def write_paths(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def search_paths(catalogue: Catalogue) -> list[str]:
    return [
        "/books/?" + urlencode({"search": " ".join(query.words), "author": query.author})
        for query in catalogue.searches
    ]


def reference_deep_paths(rows: int, seed: int) -> list[str]:
    """Page numbers of the same deep positions ours gets cursors for."""
    return [
        f"/books/?page={position // REFERENCE_PAGE_SIZE + 1}"
        for position in deep_positions(rows, DEEP_PAGES, seed)
    ]


def prepare_ours(run: Run, catalogue: Catalogue) -> Prepared:
    env = our_environment(run)
    started = time.perf_counter()
    databases.recreate_database(run.database_url)
    databases.flush_redis(run.redis_url)
    run_command(manage("migrate", "--noinput", "-v0"), env=env, what="migrate (ours)")
    migrated = time.perf_counter()
    imported = run_command(
        manage("import_books", str(catalogue.path), "--no-progress"),
        env=env,
        what="import_books",
    )
    summary = imported.stdout.strip().splitlines()
    run.log(f"  ours: {summary[0] if summary else 'imported'}")
    run.timings["ours_import_seconds"] = round(time.perf_counter() - migrated, 2)
    # No VACUUM ANALYZE here: the statistics are the ones import_books leaves (it runs ANALYZE
    # itself), so every scenario measures what a fresh import gives its users.
    ids = databases.id_range(run.database_url)
    if ids.count != catalogue.rows:
        raise RuntimeError(f"ours holds {ids.count:,} books, not {catalogue.rows:,}")
    token = run_command(
        manage("create_api_user", "benchuser", f"--password={secrets.token_urlsafe(24)}"),
        env=env,
        what="create_api_user",
    ).stdout.split()[-1]
    deep = run.workdir / "ours-deep.txt"
    run_command(
        [
            sys.executable,
            str(ROOT / "bench" / "deep_cursors.py"),
            str(deep),
            "--count",
            str(DEEP_PAGES),
            "--seed",
            str(run.options.seed),
        ],
        env=env,
        what="deep_cursors",
    )
    return Prepared(
        low_id=ids.low,
        high_id=ids.high,
        deep_paths=deep,
        search_paths=write_paths(run.workdir / "ours-search.txt", search_paths(catalogue)),
        search_scenario_paths={
            name: write_paths(run.workdir / f"ours-{name}.txt", paths)
            for name, paths in search.scenario_paths(catalogue.probes).items()
            if paths
        },
        token=token,
        load_seconds=round(time.perf_counter() - started, 2),
    )


def prepare_reference(run: Run, catalogue: Catalogue) -> Prepared:
    started = time.perf_counter()
    databases.recreate_database(run.reference_url)
    env = {
        "DJANGO_SETTINGS_MODULE": "bookstore.production_settings",
        "DATABASE_URL": run.reference_url,
    }
    run_command(
        seed_manage("migrate", "--noinput", "-v0"),
        env=env,
        cwd=servers.SEED_PROJECT,
        what="migrate (reference)",
    )
    seconds = databases.copy_books(run.reference_url, catalogue.path)
    run.timings["reference_copy_seconds"] = round(seconds, 2)
    # The reference gets its strongest honest configuration: a COPY, then VACUUM ANALYZE.
    databases.vacuum_analyze(run.reference_url)
    ids = databases.id_range(run.reference_url)
    return Prepared(
        low_id=ids.low,
        high_id=ids.high,
        deep_paths=write_paths(
            run.workdir / "reference-deep.txt",
            reference_deep_paths(catalogue.rows, 0),
        ),
        load_seconds=round(time.perf_counter() - started, 2),
    )


def seed_database(run: Run) -> Path:
    return run.workdir / "seed.sqlite3"


def prepare_seed(run: Run, catalogue: Catalogue) -> Prepared:
    started = time.perf_counter()
    path = seed_database(run)
    path.unlink(missing_ok=True)
    run_command(
        seed_manage("migrate", "--noinput", "-v0"),
        env={"SEED_SQLITE_PATH": str(path)},
        cwd=servers.SEED_PROJECT,
        what="migrate (seed)",
    )
    run.timings["seed_insert_seconds"] = round(databases.load_sqlite(path, catalogue.path), 2)
    ids = databases.sqlite_id_range(path)
    return Prepared(
        low_id=ids.low, high_id=ids.high, load_seconds=round(time.perf_counter() - started, 2)
    )


# --- measuring ---------------------------------------------------------------------------


def hot_range(prepared: Prepared) -> tuple[int, int]:
    """The ids the hot-cache detail reads: the first HOT_IDS (all, for smaller catalogues)."""
    return prepared.low_id, min(prepared.high_id, prepared.low_id + HOT_IDS - 1)


def detail_load(low: int, high: int, seed: int) -> Load:
    return Load("detail", {"min_id": str(low), "max_id": str(high), "seed": str(seed)})


def next_isbn_prefix(run: Run) -> str:
    try:
        return str(next(run.isbn_prefixes))
    except StopIteration:
        raise RuntimeError("out of ISBN prefixes for this run: shorten the soak") from None


def write_load(run: Run, kind: str, prepared: Prepared) -> Load:
    """A create or update load; every wrk run of creates gets its own ISBN prefix."""
    if kind == "create":
        arguments = {"isbn_prefix": next_isbn_prefix(run)}
    else:
        arguments = {"min_id": str(prepared.low_id), "max_id": str(prepared.high_id)}
    return Load(kind, {**arguments, "seed": str(run.options.seed)}, prepared.headers)


def paths_load(paths: Path) -> Load:
    """GET each path of a paths file in turn."""
    return Load("paths", {"paths": str(paths)})


def measure(
    run: Run,
    server: Server,
    scenario: str,
    system: str,
    load: Load | Callable[[], Load],
    shape: LoadShape | None = None,
    *,
    warm: bool = True,
) -> LoadResult:
    """Warm up, then measure one scenario; record and print the result."""
    shape = shape or LoadShape(run.options.threads, run.options.connections, run.options.duration)
    make = load if callable(load) else (lambda: load)
    if warm and run.options.warmup > 0:
        run_wrk(server.url, make(), replace(shape, seconds=run.options.warmup))
    measured = make()
    load_before = os.getloadavg()[0]
    processes_before = cpu.snapshot()
    result = run_wrk(server.url, measured, shape)
    spent = cpu.seconds_by_role(processes_before, cpu.snapshot(), server.main_pid)
    entry = result.as_dict()
    # What one request cost each part of the machine (the server runs in its own group).
    entry["cpu_seconds"] = spent
    entry["cpu_ms_per_request"] = {
        name: round(1000 * seconds / result.requests, 3) if result.requests else None
        for name, seconds in spent.items()
    }
    # Other work on the machine competes for its cores: what it was, to judge the figures by.
    entry["load_average_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    entry["wrk"] = {
        "threads": shape.threads,
        "connections": shape.connections,
        "seconds": shape.seconds,
        "timeout_seconds": shape.timeout_seconds,
        "script": measured.generator,
    }
    run.record(scenario, system, entry)
    p50 = "-" if result.p50_ms is None else f"{result.p50_ms:.2f}"
    p99 = "-" if result.p99_ms is None else f"{result.p99_ms:.2f}"
    per_request = entry["cpu_ms_per_request"]
    run.log(
        f"  {system:<9} {scenario:<16} {result.requests_per_second:>9,.1f} req/s  "
        f"p50 {p50:>8} ms  p99 {p99:>8} ms  errors {result.errors:,}  "
        f"(load {load_before:.1f}; CPU ms/request: server {per_request['server']}, "
        f"postgres {per_request['postgres']}, redis {per_request['redis']})"
    )
    if result.errors:
        statuses = ", ".join(f"{status}: {count:,}" for status, count in result.statuses.items())
        run.log(f"    statuses {statuses}; socket errors {result.socket_errors:,}")
        for sample in result.error_samples[:2]:
            run.log(f"    e.g. {sample[:300]}")
    return result


@contextmanager
def running(server: Server, run: Run) -> Iterator[Server]:
    try:
        server.wait_ready(READY_TIMEOUT)
        run.log(f"{server.name}: ready at {server.url} (log {server.log_path})")
        yield server
    finally:
        server.stop(timeout=STOP_TIMEOUT)


def worker_memory(server: Server) -> dict[str, int | None]:
    return {str(pid): rss_kib(pid) for pid in server.worker_pids()}


def read_each(url: str, paths: list[str], clients: int = 8) -> int:
    """GET every path once from ``clients`` keep-alive connections; the count of non-200s."""
    address = urlsplit(url)
    shares = [paths[index::clients] for index in range(clients)]

    def read(share: list[str]) -> int:
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
        failures = 0
        try:
            for path in share:
                connection.request("GET", path, headers={"Accept": "application/json"})
                response = connection.getresponse()
                response.read()
                failures += response.status != 200
        finally:
            connection.close()
        return failures

    with ThreadPoolExecutor(clients) as pool:
        return sum(pool.map(read, shares))


def warm_cache(run: Run, server: Server, low: int, high: int) -> None:
    """Read every hot id once, so the hot-cache scenario starts with all of them cached."""
    paths = [f"/books/{id_}/" for id_ in range(low, high + 1)]
    prime_cache(run, server, f"ids {low:,}-{high:,}", paths)


def start_on_our_server(
    run: Run,
    name: str,
    log_name: str,
    app: str = OUR_APP,
    *,
    read_cache: bool = True,
    ready_path: str = "/readyz",
) -> Server:
    """Our production server running ``app`` with our environment, on a port of its own."""
    server = harness_app.AppServer(
        free_port(run.ports),
        run.workdir / log_name,
        our_environment(run, read_cache=read_cache),
        app=app,
        name=name,
        ready_path=ready_path,
    )
    server.spawn()
    return server


def measure_writes(run: Run, server: Server, system: str, prepared: Prepared) -> None:
    """The create scenario (a fresh ISBN prefix for its warm-up and its run) and the update."""
    measure(run, server, "create", system, lambda: write_load(run, "create", prepared))
    measure(run, server, "update", system, write_load(run, "update", prepared))


def run_ceiling(run: Run) -> None:
    server = start_on_our_server(
        run, "ceiling", "ceiling.log", "bench.ceiling:application", ready_path="/"
    )
    with running(server, run):
        measure(run, server, "ceiling", "ceiling", detail_load(1, 1000, run.options.seed))


def run_ours(run: Run, prepared: Prepared) -> None:
    seed = run.options.seed
    server = start_on_our_server(run, "ours", "ours.log")
    with running(server, run):
        low, high = hot_range(prepared)
        warm_cache(run, server, low, high)
        run.memory["after_warmup_kib"] = worker_memory(server)
        run.memory["workers"] = len(run.memory["after_warmup_kib"])
        measure(run, server, "detail", "ours", detail_load(low, high, seed))
        measure(run, server, "list_first", "ours", paths_load(run.first_page))
        assert prepared.deep_paths is not None
        assert prepared.search_paths is not None
        measure(run, server, "list_deep", "ours", paths_load(prepared.deep_paths))
        prime_cache(run, server, "search", prepared.search_paths.read_text().split())
        measure(run, server, "search", "ours", paths_load(prepared.search_paths))
        run_search_scenarios(run, server, prepared, cached=True)
        measure_writes(run, server, "ours", prepared)
        run.memory["after_run_kib"] = worker_memory(server)
        print_memory(run)

    databases.flush_redis(run.redis_url)
    server = start_on_our_server(run, "ours (cache off)", "ours-uncached.log", read_cache=False)
    with running(server, run):
        measure(
            run,
            server,
            "detail_uncached",
            "ours",
            detail_load(prepared.low_id, prepared.high_id, seed),
        )
        run_search_scenarios(run, server, prepared)


def search_scenario_files(run: Run, server: Server, prepared: Prepared) -> dict[str, Path]:
    """Each search scenario's file of paths: the catalogue's, and the relevance-ordered deep
    pages reached by following ``server``'s own next links (walked once a run: the servers
    share a secret key, so the cursors are good on either)."""
    if run.search_files is not None:
        return run.search_files
    files = dict(prepared.search_scenario_paths)
    assert run.catalogue is not None
    started = time.perf_counter()
    deep, walked = search.deep_paths(server.url, run.catalogue.probes.deep_words)
    run.search_deep = walked
    if deep:
        files[search.DEEP] = write_paths(run.workdir / f"ours-{search.DEEP}.txt", deep)
    run.log(
        f"  ours: followed the relevance-ordered next links of {len(walked['words'])} searches "
        f"({', '.join(map(str, walked['pages_followed']))} pages) in "
        f"{time.perf_counter() - started:.1f} s: {len(deep)} deep pages"
    )
    run.search_files = files
    return files


def run_search_scenarios(
    run: Run, server: Server, prepared: Prepared, *, cached: bool = False
) -> None:
    """The search scenarios: on our server with the read cache off, every request searches;
    ``cached``, on the server as deployed, each path read once first (search.CACHED)."""
    files = search_scenario_files(run, server, prepared)
    for name in search.CACHED if cached else search.SCENARIOS:
        base = search.base_scenario(name)
        if base not in files:
            run.skip(name, "ours", "no paths: the catalogue gave no such search")
            run.log(f"  ours      {name:<16} skipped: no paths")
            continue
        paths = files[base].read_text().split()
        check = search.check_answers(server.url, name, paths)
        run.search_checks[name] = check
        run.log(
            f"  ours      {name:<16} {len(paths)} paths; a sample: {search.describe_check(check)}"
        )
        if cached:
            prime_cache(run, server, name, paths)
        measure(run, server, name, "ours", paths_load(files[base]))
        entry = search.account_expected_statuses(name, run.measurements[name]["ours"])
        run.record(name, "ours", entry)
        for status, counted in entry.get("expected", {}).items():
            share = "-" if counted["share"] is None else f"{counted['share']:.1%}"
            run.log(f"    {status}: {counted['count']:,} ({share}), expected here, not errors")


def prime_cache(run: Run, server: Server, what: str, paths: list[str]) -> None:
    """Read every path once, so a cached scenario measures repeated requests: the cache-off
    scenarios measure the first ones."""
    started = time.perf_counter()
    failures = read_each(server.url, paths)
    run.log(
        f"  ours: read the {len(paths):,} paths of {what} once to fill the cache "
        f"({time.perf_counter() - started:.1f} s, {failures} not 200)"
    )


def record_uncached_as_detail(run: Run, system: str) -> None:
    """A system without a cache: its uncached detail is its detail."""
    run.record(
        "detail_uncached",
        system,
        {**run.measurements["detail"][system], "same_as": "detail (it has no cache)"},
    )


def run_reference(run: Run, prepared: Prepared) -> None:
    """The reference on each of its servers; each scenario credits it with the best one."""
    candidates: dict[str, dict[str, dict[str, Any]]] = {}
    for name in servers.REFERENCE_SERVERS:
        port = free_port(run.ports)
        server = servers.start_reference_server(
            port, run.reference_url, run.workdir / f"reference-{name}.log", name
        )
        with running(server, run):
            low, high = hot_range(prepared)
            measure(run, server, "detail", "reference", detail_load(low, high, run.options.seed))
            measure(run, server, "list_first", "reference", paths_load(run.first_page))
            assert prepared.deep_paths
            measure(run, server, "list_deep", "reference", paths_load(prepared.deep_paths))
            measure_writes(run, server, "reference", prepared)
        for scenario in ("detail", "list_first", "list_deep", "create", "update"):
            entry = run.measurements[scenario].pop("reference")
            candidates.setdefault(scenario, {})[name] = entry
    for scenario, by_server in candidates.items():
        best = max(by_server, key=lambda name: by_server[name]["requests_per_second"])
        run.record(
            scenario,
            "reference",
            {**by_server[best], "server": best, "servers": by_server},
        )
    record_uncached_as_detail(run, "reference")
    run.skip("search", "reference", "the seed has no filters")


#: What the results file records of the reference's settings, read from the settings themselves.
_REFERENCE_SETTINGS_PROBE = (
    "import json; from django.conf import settings as s; db = s.DATABASES['default']; "
    "print(json.dumps({'DEBUG': s.DEBUG, 'ENGINE': db['ENGINE'], "
    "'CONN_MAX_AGE': db.get('CONN_MAX_AGE', 0), 'REST_FRAMEWORK': s.REST_FRAMEWORK}))"
)


def reference_description(run: Run) -> dict[str, Any]:
    """The reference's settings as Django loads them, and its servers' command lines."""
    printed = run_command(
        seed_manage("shell", "-c", _REFERENCE_SETTINGS_PROBE),
        env={
            "DJANGO_SETTINGS_MODULE": "bookstore.production_settings",
            "DATABASE_URL": run.reference_url,
        },
        cwd=servers.SEED_PROJECT,
        what="reading the reference's settings",
    ).stdout
    return {
        "settings": json.loads(printed.strip().splitlines()[-1]),
        "servers": {
            name: servers.reference_server_command(name, 0)[0] for name in servers.REFERENCE_SERVERS
        },
        "credited_with": "the best of its servers in each scenario",
    }


def run_seed(run: Run, prepared: Prepared) -> None:
    port = free_port(run.ports)
    server = servers.start_seed_server(port, seed_database(run), run.workdir / "seed.log")
    with running(server, run):
        low, high = hot_range(prepared)
        measure(run, server, "detail", "seed", detail_load(low, high, run.options.seed))
        record_uncached_as_detail(run, "seed")
        if run.options.rows > SEED_LIST_MAX_ROWS:
            run.skip("list_first", "seed", f"unpaginated: {run.options.rows:,} books per response")
        else:
            # The whole table in every response: few connections, a long timeout, so it
            # reports its real rate instead of timing out.
            seconds = max(2 * run.options.duration, 5.0)
            shape = LoadShape(threads=1, connections=2, seconds=seconds, timeout_seconds=120)
            measure(
                run, server, "list_first", "seed", paths_load(run.first_page), shape, warm=False
            )
        run.skip("list_deep", "seed", "unpaginated: there is no deep page")
        run.skip("search", "seed", "the seed has no filters")
        measure_writes(run, server, "seed", prepared)


# --- the soak ----------------------------------------------------------------------------


def run_soak(run: Run, prepared: Prepared) -> None:
    assert prepared.deep_paths is not None
    assert prepared.search_paths is not None
    server = start_on_our_server(run, "ours (soak)", "ours-soak.log")

    def mixed() -> Load:
        return Load(
            "mixed",
            {
                "min_id": str(prepared.low_id),
                "max_id": str(prepared.high_id),
                "paths": str(prepared.deep_paths),
                "searches": str(prepared.search_paths),
                "isbn_prefix": next_isbn_prefix(run),
                "seed": str(run.options.seed),
            },
            prepared.headers,
        )

    shape = LoadShape(run.options.threads, run.options.connections, SOAK_SAMPLE_SECONDS)
    samples: list[dict[str, Any]] = []
    chunks: list[dict[str, Any]] = []
    with running(server, run):
        run_wrk(server.url, mixed(), replace(shape, seconds=5))
        started = time.monotonic()
        samples.append({"seconds": 0.0, "rss_kib": worker_memory(server)})
        while time.monotonic() - started < run.options.soak:
            result = run_wrk(server.url, mixed(), shape)
            elapsed = round(time.monotonic() - started, 1)
            samples.append({"seconds": elapsed, "rss_kib": worker_memory(server)})
            chunks.append({"seconds": elapsed, **result.as_dict()})
            rss = ", ".join(
                f"{kib // 1024 if kib else '?'}" for kib in samples[-1]["rss_kib"].values()
            )
            run.log(
                f"  soak {elapsed:>6.0f} s: {result.requests_per_second:,.0f} req/s, "
                f"p99 {result.p99_ms or 0:,.0f} ms, errors {result.errors:,}; worker RSS MiB {rss}"
            )
    verdict = report.soak_verdict(samples, SOAK_GROWTH_LIMIT)
    run.memory["soak"] = {
        "seconds": run.options.soak,
        "samples": samples,
        "chunks": chunks,
        "errors": sum(chunk["errors"] for chunk in chunks),
        "requests": sum(chunk["requests"] for chunk in chunks),
        **verdict,
    }
    for pid, worker in verdict["workers"].items():
        run.log(
            f"  worker {pid}: start {worker['start_kib'] / 1024:.1f} MiB, after 1 min "
            f"{worker['baseline_kib'] / 1024:.1f}, end {worker['end_kib'] / 1024:.1f}, "
            f"peak {worker['peak_kib'] / 1024:.1f}"
        )
    run.log(f"  soak verdict: {verdict['verdict']}")


# --- output ------------------------------------------------------------------------------


def print_memory(run: Run) -> None:
    before, after = run.memory.get("after_warmup_kib", {}), run.memory.get("after_run_kib", {})

    def mib(values: dict[str, int | None]) -> str:
        return ", ".join(f"{pid} {kib / 1024:.1f}" for pid, kib in values.items() if kib)

    run.log(f"  our workers' RSS MiB after warm-up: {mib(before)}")
    run.log(f"  our workers' RSS MiB after the run: {mib(after)}")
    if set(before) != set(after):
        run.note(
            "our workers were replaced during the run (a worker died and the server "
            "respawned it: see its log): compare totals, not pids"
        )


def git_revision() -> str | None:
    """The checked-out commit, read from .git without running git."""
    git = ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        return None
    return None


def wrk_version() -> str:
    completed = subprocess.run(
        ["wrk", "--version"],  # noqa: S607 - wrk from PATH, as the runs use it
        capture_output=True,
        text=True,
        check=False,
    )
    lines = (completed.stdout or completed.stderr).splitlines()
    return lines[0].strip() if lines else "?"


def machine_info(run: Run) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "wrk": wrk_version(),
        "git_revision": git_revision(),
    }
    try:
        info["postgresql"] = databases.server_version(
            databases.with_database(run.database_url, "postgres")
        )
    except Exception as error:  # informational only
        info["postgresql"] = f"unknown ({error})"
    return info


def write_results(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}.json"
    text = json.dumps(result, indent=2) + "\n"
    path.write_text(text)
    (RESULTS / "latest.json").write_text(text)
    return path


def print_comparison(result: dict[str, Any], previous_path: Path) -> list[dict[str, Any]]:
    previous = json.loads(previous_path.read_text())
    rows = report.compare_runs(result, previous)
    print(
        f"\nOurs now ({result['rows']:,} rows) against {previous_path} "
        f"({previous.get('rows', '?'):,} rows): now / then"
    )
    print(f"{'scenario':<18}{'req/s':>10}{'p50':>10}{'p99':>10}{'errors':>16}   within 1.3x")
    for row in rows:
        values = [row["requests_per_second"], row["p50_latency"], row["p99_latency"]]
        shown = "".join(f"{'-' if value is None else f'{value:.2f}x':>10}" for value in values)
        errors = f"{row['errors_now']:,} / {row['errors_then']:,}"
        verdict = "yes" if report.within_factor(row, 1.3) else "NO"
        print(f"{row['scenario']:<18}{shown}{errors:>16}   {verdict}")
    return rows


# --- main --------------------------------------------------------------------------------


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    subprocess.run([str(ROOT / "scripts" / "ensure-wrk.sh")], check=True)  # noqa: S603

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    databases.database_name(database_url)  # refuses a database not named bench...
    started = time.monotonic()
    load_before = os.getloadavg()
    base = random.SystemRandom().randrange(100, 500)
    with ExitStack() as cleanup:
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        run = Run(
            options=options,
            workdir=workdir,
            database_url=database_url,
            reference_url=databases.with_database(database_url, REFERENCE_DATABASE),
            redis_url=redis_url,
            isbn_prefixes=iter(range(base, 1000)),
        )
        print(
            f"Benchmark: {options.rows:,} books; {', '.join(options.systems)}; "
            f"wrk -t{options.threads} -c{options.connections}, {options.duration:g} s a scenario "
            f"after {options.warmup:g} s of warm-up; {os.cpu_count()} cores, load average "
            f"{load_before[0]:.2f}"
        )
        print(
            f"Our server runs with THROTTLE_ANON_RATE and THROTTLE_USER_RATE at {UNTHROTTLED} and "
            "no WRITE_QUOTA_PER_DAY: one loopback client sends every request, and would "
            "otherwise be throttled."
        )
        if "ours" in options.systems:
            cleanup.callback(_quietly, databases.drop_database, database_url)
            cleanup.callback(_quietly, databases.flush_redis, redis_url)
        if "reference" in options.systems:
            cleanup.callback(_quietly, databases.drop_database, run.reference_url)

        generated = time.perf_counter()
        catalogue = write_catalogue(workdir / "books.csv", options.rows, options.seed)
        run.catalogue = catalogue
        run.timings["generate_seconds"] = round(time.perf_counter() - generated, 2)
        size = catalogue.path.stat().st_size / 2**20
        seconds = run.timings["generate_seconds"]
        print(f"Generated {options.rows:,} books ({size:,.1f} MiB) in {seconds} s")

        prepared: dict[str, Prepared] = {}
        loaders = {"ours": prepare_ours, "reference": prepare_reference, "seed": prepare_seed}
        for system, loader in loaders.items():
            if system in options.systems:
                prepared[system] = loader(run, catalogue)
                print(f"Loaded {system} in {prepared[system].load_seconds} s")

        if "ceiling" in options.systems:
            run_ceiling(run)
        if "ours" in options.systems:
            run_ours(run, prepared["ours"])
        if "reference" in options.systems:
            run_reference(run, prepared["reference"])
        if "seed" in options.systems:
            run_seed(run, prepared["seed"])
        if options.soak > 0 and "ours" in prepared:
            run_soak(run, prepared["ours"])

        load_after = os.getloadavg()
        result: dict[str, Any] = {
            "rows": options.rows,
            "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "total_seconds": round(time.monotonic() - started, 1),
            "systems": list(options.systems),
            "scenarios": SCENARIOS,
            "wrk": {
                "threads": options.threads,
                "connections": options.connections,
                "duration_seconds": options.duration,
                "warmup_seconds": options.warmup,
                "hot_ids": HOT_IDS,
            },
            "server_environment": {
                key: value
                for key, value in our_environment(run).items()
                if key not in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL")
            },
            "server_command": harness_app.server_command(OUR_APP),
            "reference": reference_description(run) if "reference" in options.systems else None,
            "measurements": run.measurements,
            "ratios": report.compute_ratios(run.measurements),
            "loading": {
                "ours": "migrate, manage.py import_books (its own ANALYZE); no VACUUM ANALYZE",
                "reference": "migrate, COPY, VACUUM ANALYZE",
                "seed": "migrate, INSERT in one transaction (SQLite)",
            },
            "search_scenarios": {
                "server": "ours with READ_CACHE_ENABLED=false: every request searches",
                "cached_server": (
                    "ours as deployed (read cache on), each path read once before its run"
                ),
                "targets": search.TARGETS,
                "met": {
                    name: search.meets_target(name, run.measurements[name]["ours"])
                    for name in search.ALL
                    if "ours" in run.measurements.get(name, {})
                },
                "expected_statuses": search.EXPECTED_STATUSES,
                "sample_answers": run.search_checks,
                "deep_pages": run.search_deep,
                "queries": {
                    name: len(paths)
                    for name, paths in search.scenario_paths(catalogue.probes).items()
                },
            },
            "memory": run.memory,
            "timings": run.timings,
            "notes": run.notes,
            "machine": {
                **machine_info(run),
                "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
            },
        }
        print()
        report.print_table(
            run.measurements,
            SCENARIOS,
            title=f"{options.rows:,} books, wrk -c{options.connections}, {options.duration:g} s",
        )
        search.print_targets(
            run.measurements,
            run.search_checks,
            title=(
                f"Search, read cache off then on (each path read once before): {options.rows:,} "
                f"books, wrk -c{options.connections}; "
                f"target p99 < {search.TARGET_P99_MS:g} ms"
            ),
        )
        if options.compare:
            result["compare"] = {
                "path": str(options.compare),
                "rows": print_comparison(result, options.compare),
            }
        path = write_results(result)
        print(
            f"\nWrote {path.relative_to(ROOT)} and latest.json; {result['total_seconds']:.0f} s in "
            f"all; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
        )
    return 0


def _quietly(function: Callable[[str], None], argument: str) -> None:
    try:
        function(argument)
    except Exception as error:  # cleaning up: report, go on
        print(f"cleanup: {function.__name__}({argument!r}) failed: {error}", file=sys.stderr)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nInterrupted: servers stopped, bench databases dropped.", file=sys.stderr)
        sys.exit(130)
