"""Where a request's time goes: our WSGI application called in-process, part by part.

For the cache-off detail read, the create and the update, this times the production stack
(PostgreSQL, Redis, production settings, Prometheus in multiprocess mode, the JSON access
line) and then the same stack with one part switched off at a time; the difference is that
part's cost. It also counts the SQL statements and Redis commands of each request kind.
No server and no network load: the figures are CPU and round-trip time per request in one
thread, so they add up, unlike wrk's figures under contention. Commits do not wait for the WAL
flush here (synchronous_commit off for these sessions only), or its variance would hide the
parts of a write.

    .venv/bin/python bench/stack_costs.py [--requests N] [--rounds R] [--only detail,create]

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench_costs) is created, migrated
and dropped; REDIS_URL (default redis://127.0.0.1:6379/8) is emptied before and after.
Results go to bench/results/stack-costs-<timestamp>.json (docs/performance.md quotes them).
"""

import argparse
import contextlib
import datetime
import functools
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import databases  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_costs"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
BOOKS = 2_000
KINDS = ("detail", "create", "update")
#: Set by --reference: time the lecture's code (no parts to switch off) instead of ours.
REFERENCE = False
#: How --profile orders its table (cProfile sort keys: cumulative, tottime).
PROFILE_ORDER = os.environ.get("PROFILE_ORDER", "cumulative")


def without_flush_wait(database_url: str) -> str:
    """The URL with synchronous_commit off for this client's sessions: a commit does not wait
    for the WAL flush, whose variance on this disk (±1.5 ms) drowns the parts' costs. The
    flush is the database's cost: the benchmark's PostgreSQL CPU per request shows it."""
    separator = "&" if "?" in database_url else "?"
    return f"{database_url}{separator}options=-c%20synchronous_commit%3Doff"


def configure(database_url: str, redis_url: str, metrics_dir: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bookstore.settings",
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-fixed-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "DATABASE_URL": without_flush_wait(database_url),
            "REDIS_URL": redis_url,
            "READ_CACHE_ENABLED": "false",
            "THROTTLE_ANON_RATE": "100000000/min",
            "THROTTLE_USER_RATE": "100000000/min",
            "WRITE_QUOTA_PER_DAY": "0",
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        }
    )
    import django

    django.setup()


def environ_for(method: str, path: str, body: bytes = b"", **headers: str) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "application/json",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if body:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in headers.items():
        environ[f"HTTP_{name.upper()}"] = value
    return environ


def valid_isbn(twelve_digits: str) -> str:
    from stdnum import ean

    return twelve_digits + ean.calc_check_digit(twelve_digits)


class Workload:
    """The three request kinds, each a fresh environ per call."""

    def __init__(self, token: str, low: int, high: int) -> None:
        self.token = token
        self.low, self.high = low, high
        self.counter = 0

    def next_id(self) -> int:
        self.counter += 1
        return self.low + self.counter % (self.high - self.low + 1)

    def detail(self) -> dict[str, Any]:
        return environ_for("GET", f"/books/{self.next_id()}/")

    def create(self) -> dict[str, Any]:
        self.counter += 1
        body = json.dumps(
            {
                "title": f"Cost {self.counter}",
                "author": "A. Writer",
                "publication_date": "2001-02-03",
                "isbn": valid_isbn(f"979{self.counter:09d}"),
                "summary": "Measured.",
            }
        ).encode()
        return environ_for("POST", "/books/", body, **self.credentials())

    def update(self) -> dict[str, Any]:
        body = json.dumps({"summary": f"Changed {self.counter}."}).encode()
        return environ_for("PATCH", f"/books/{self.next_id()}/", body, **self.credentials())

    def credentials(self) -> dict[str, str]:
        """Our token; the lecture's code takes writes from anyone."""
        return {"authorization": f"Token {self.token}"} if self.token else {}


def call(application: Callable[..., Any], environ: dict[str, Any]) -> int:
    status: list[str] = []

    def start_response(line: str, headers: list[Any], exc_info: Any = None) -> None:
        status.append(line)

    result = application(environ, start_response)
    b"".join(result)
    close = getattr(result, "close", None)
    if close is not None:
        close()
    return int(status[0][:3])


def per_request_us(
    application: Callable[..., Any],
    make: Callable[[], dict[str, Any]],
    requests: int,
    expected: int | None = None,
) -> tuple[float, int]:
    """The mean time of one request in microseconds over ``requests``, and their status.

    Raises RuntimeError if a request answers another status than ``expected`` (a part the
    request needs was switched off)."""
    started = time.perf_counter()
    for _ in range(requests):
        status = call(application, make())
        if expected is None:
            expected = status
        elif status != expected:
            raise RuntimeError(f"status {status}, expected {expected}")
    return (time.perf_counter() - started) / requests * 1e6, expected or 0


def count_statements(
    application: Callable[..., Any], make: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """SQL statements and Redis commands of one request."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = getattr(cache, "client", None)

    def redis_calls() -> dict[str, int]:
        if client is None:  # the lecture's code has no Redis
            return {}
        stats = client.get_client(write=True).info("commandstats")
        return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}

    before = redis_calls()
    with CaptureQueriesContext(connection) as queries:
        call(application, make())
    after = redis_calls()
    # The INFO call itself is counted once in `after`.
    commands = {
        name: after[name] - before.get(name, 0) - (name == "info")
        for name in after
        if after[name] - before.get(name, 0) - (name == "info") > 0
    }
    return {
        "sql": [query["sql"][:160] for query in queries.captured_queries],
        "redis": commands,
    }


# --- the parts ------------------------------------------------------------------------------


@contextlib.contextmanager
def without_middleware(name: str) -> Iterator[None]:
    from django.conf import settings
    from django.test import override_settings

    with override_settings(MIDDLEWARE=[entry for entry in settings.MIDDLEWARE if entry != name]):
        yield


@contextlib.contextmanager
def patched(target: Any, name: str, replacement: Any) -> Iterator[None]:
    original = getattr(target, name)
    setattr(target, name, replacement)
    try:
        yield
    finally:
        setattr(target, name, original)


@contextlib.contextmanager
def access_log_off() -> Iterator[None]:
    import logging

    logger = logging.getLogger("core.request_id")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def read_cache_fence_off() -> Iterator[None]:
    from books import read_cache, services

    with (
        patched(services.read_cache, "books_changed", lambda *a, **k: None),
        patched(read_cache, "books_changed", lambda *a, **k: None),
    ):
        yield


@contextlib.contextmanager
def token_lookup_remembered() -> Iterator[None]:
    """Token authentication without its query: each key's (user, token) looked up once."""
    from core.authentication import TokenAuthentication

    original = TokenAuthentication.authenticate_credentials
    known: dict[bytes, Any] = {}

    def remembered(self: Any, token: bytes) -> Any:
        if token not in known:
            known[token] = original(self, token)
        return known[token]

    with patched(TokenAuthentication, "authenticate_credentials", remembered):
        yield


@contextlib.contextmanager
def model_validation_off() -> Iterator[None]:
    """The service's full_clean skipped (the serializer has validated the same fields)."""
    from books import services

    def trim_only(book: Any) -> None:
        for name in ("title", "author", "summary"):
            value = getattr(book, name)
            if isinstance(value, str):
                setattr(book, name, value.strip())

    with patched(services, "_clean", trim_only):
        yield


@contextlib.contextmanager
def query_instrumentation_off() -> Iterator[None]:
    from core.db_instrumentation import QueryInstrumentation

    def passthrough(
        self: Any, execute: Any, sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        return execute(sql, params, many, context)

    with patched(QueryInstrumentation, "__call__", passthrough):
        yield


@contextlib.contextmanager
def isbn_normalisation_off() -> Iterator[None]:
    """normalize_isbn as the identity (the workload's ISBNs are already canonical)."""
    from books import models, serializers

    with (
        patched(models, "normalize_isbn", lambda value: value),
        patched(serializers, "normalize_isbn", lambda value: value),
    ):
        yield


def parts() -> dict[str, Callable[[], contextlib.AbstractContextManager[None]]]:
    from django.conf import settings

    from books.views import BookViewSet
    from core.authentication import TokenAuthentication

    variants: dict[str, Callable[[], contextlib.AbstractContextManager[None]]] = {}
    for name in settings.MIDDLEWARE:
        short = name.rsplit(".", 1)[-1]
        variants[f"middleware {short}"] = functools.partial(without_middleware, name)
    # DRF reads its classes into the view class when it is defined: patch the view.
    variants["throttles (anon, user, scoped: one Redis call)"] = lambda: patched(
        BookViewSet, "throttle_classes", []
    )
    variants["session authentication class"] = lambda: patched(
        BookViewSet, "authentication_classes", [TokenAuthentication]
    )
    variants["token lookup (SQL + SHA-512)"] = token_lookup_remembered
    variants["model full_clean in the service"] = model_validation_off
    variants["ISBN normalisation (python-stdnum)"] = isbn_normalisation_off
    variants["query metrics and slow-query log"] = query_instrumentation_off
    variants["access log line"] = access_log_off
    variants["read-cache fence and list generation (one Redis call)"] = read_cache_fence_off
    return variants


def build_application() -> Callable[..., Any]:
    """The production WSGI application as bookstore.wsgi builds it, middleware re-read."""
    from django.core.handlers.wsgi import WSGIHandler

    if REFERENCE:
        return WSGIHandler()
    from books.hot_path import CachedReads

    return CachedReads(WSGIHandler())


def measure_kind(kind: str, workload: Workload, requests: int, rounds: int) -> dict[str, Any]:
    """The full stack's time per request, and each part's cost: full minus without it.

    Full and variant rounds alternate and each keeps its fastest round, so that the machine's
    other work (noise only ever adds time) cancels out as far as it can."""
    make = getattr(workload, kind)
    full_application = build_application()
    per_request_us(full_application, make, requests)  # warm: connections, first imports
    fulls: list[float] = []
    costs: dict[str, float] = {}
    _, status = per_request_us(full_application, make, 5)
    if status >= 400:  # a cost table of an error answer would measure the wrong path
        raise RuntimeError(f"{kind}: the full stack answers {status}")
    if REFERENCE:  # the whole stack only: its parts are Django's and DRF's defaults
        fulls = [per_request_us(full_application, make, requests)[0] for _ in range(rounds)]
    for name, variant in ({} if REFERENCE else parts()).items():
        with variant():
            application = build_application()
            try:
                per_request_us(application, make, max(10, requests // 10), status)
            except RuntimeError as error:  # the part is needed for this kind (auth for writes)
                print(f"  {name:<45} needed ({error})", flush=True)
                continue
            withouts = []
            for _ in range(rounds):
                fulls.append(per_request_us(full_application, make, requests)[0])
                withouts.append(per_request_us(application, make, requests, status)[0])
        costs[name] = round(min(fulls[-rounds:]) - min(withouts), 1)
        print(f"  {name:<45} {costs[name]:>8,.0f} µs", flush=True)
    full = min(fulls)
    print(f"{kind}: full stack {full:,.0f} µs/request (fastest round)", flush=True)
    counted = count_statements(build_application(), make)
    print(f"  SQL: {len(counted['sql'])} statements; Redis: {counted['redis']}", flush=True)
    return {"full_us": round(full, 1), "costs_us": costs, **counted}


def profile_kind(kind: str, workload: Workload, requests: int) -> None:
    """cProfile of ``requests`` requests of the full stack: the top functions by own time."""
    import cProfile
    import pstats

    make = getattr(workload, kind)
    application = build_application()
    per_request_us(application, make, requests)
    profiler = cProfile.Profile()
    profiler.enable()
    per_request_us(application, make, requests)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats(PROFILE_ORDER).print_stats(45)


def configure_reference(database_url: str) -> None:
    """The lecture's project (bench/reference/seed) as the benchmark's reference runs it."""
    sys.path.insert(0, str(ROOT / "bench" / "reference" / "seed"))
    # bench.data imported our books.demo: the seed has a `books` package of its own.
    for name in [name for name in sys.modules if name.split(".")[0] == "books"]:
        del sys.modules[name]
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bookstore.production_settings",
            "DATABASE_URL": without_flush_wait(database_url),
        }
    )
    import django

    django.setup()


def prepare(database_url: str) -> Workload:
    from django.core.management import call_command

    from books.models import Book

    call_command("migrate", "--noinput", verbosity=0)
    Book.objects.bulk_create(
        Book(
            title=f"Book {number}",
            author="Some Author",
            publication_date=datetime.date(2000, 1, 1),
            isbn=valid_isbn(f"978{number:09d}"),
            summary="A summary of a book " * 10,
        )
        for number in range(1, BOOKS + 1)
    )
    token = ""
    if not REFERENCE:
        from django.contrib.auth import get_user_model

        from books.permissions import give_role
        from core.tokens import auth_token_create

        user = get_user_model().objects.create_user("costs", password=None)
        give_role(user, "editor")
        _, token = auth_token_create(user=user, ttl=None)
    ids = Book.objects.order_by("id").values_list("id", flat=True)
    return Workload(token, ids.first() or 0, ids.last() or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per timing round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant (median)")
    parser.add_argument("--only", default=",".join(KINDS), help="request kinds to measure")
    parser.add_argument("--profile", action="store_true", help="cProfile instead of parts")
    parser.add_argument(
        "--reference", action="store_true", help="time the lecture's code instead of ours"
    )
    arguments = parser.parse_args(argv)
    global REFERENCE
    REFERENCE = arguments.reference
    kinds = [kind for kind in arguments.only.split(",") if kind in KINDS]
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    databases.database_name(database_url)  # refuses a database not named bench...
    databases.recreate_database(database_url)
    databases.flush_redis(redis_url)
    results: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-metrics-") as metrics_dir:
            if REFERENCE:
                configure_reference(database_url)
            else:
                configure(database_url, redis_url, metrics_dir)
                # The access lines go to a stream as production's do; here one nobody reads.
                import logging

                for handler in logging.getLogger().handlers:
                    if isinstance(handler, logging.StreamHandler):
                        handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - for the run
            workload = prepare(database_url)
            for kind in kinds:
                if arguments.profile:
                    profile_kind(kind, workload, arguments.requests)
                    continue
                results[kind] = measure_kind(kind, workload, arguments.requests, arguments.rounds)
    finally:
        from django.db import connections

        connections.close_all()
        databases.drop_database(database_url)
        databases.flush_redis(redis_url)
    if arguments.profile:
        return 0
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    system = "-reference" if REFERENCE else ""
    path = ROOT / "bench" / "results" / f"stack-costs{system}-{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "system": "reference" if REFERENCE else "ours",
                "requests": arguments.requests,
                "rounds": arguments.rounds,
                "load_average": os.getloadavg()[0],
                "kinds": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"Wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
