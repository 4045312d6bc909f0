"""Which WSGI server should production run? The same app, the same load, several servers.

One catalogue (default 20,000 books) is loaded once, with bench/run.py's prepare functions, into
our database and the reference's. Then each candidate server starts in turn, 2 worker
processes, bound to 127.0.0.1, its output in a log file, and wrk -t2 -c32 drives it for 10 s
after 2 s of warm-up (bench/run.py's ``measure``) in these scenarios:

- ceiling: the bare app bench.ceiling:application (what the server alone allows);
- detail: our app, hot detail read, read cache on and filled first (run.py's ``warm_cache``);
- detail_uncached: our app, detail read with READ_CACHE_ENABLED=false;
- create: our app, POST with our token (run.py's ``write_load``).

The reference (the lecture's code, bench/reference/seed, production settings, PostgreSQL) runs
detail, create and update on its own candidate servers, so that it is measured on its best.

Candidates are measured in the order given (``--candidates``, ``--reverse``): run it twice in
different orders on a noisy machine, and compare ratios within one run rather than absolutes.
Results go to bench/results/server-choice-<UTC timestamp>.json.

    .venv/bin/python bench/server_choice.py [--rows N] [--candidates a,b] [--reverse]
        [--reference-candidates a,b] [--duration S] [--warmup S]
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import databases, servers  # noqa: E402 - needs ROOT on the path
from bench import run as bench_run  # noqa: E402
from bench.data import write_catalogue  # noqa: E402
from harness.ports import free_port  # noqa: E402
from harness.processes import Server  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# Our own database names (bench_* as bench/databases.py requires), so a run.py elsewhere on the
# machine (bench_ours, bench_reference) is not disturbed.
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_server_choice"
REFERENCE_DATABASE = "bench_server_choice_reference"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
CEILING_APP = "bench.ceiling:application"
WORKERS = 2
GTHREAD_THREADS = 4
BIN = servers.BIN
#: The candidate every other one is compared to (production's server before granian).
BASELINE = "gunicorn-gthread"
REFERENCE_BASELINE = "ref-gunicorn-sync"

SCENARIOS = {
    "ceiling": "ceiling: bare WSGI app",
    "detail": "detail, hot cache",
    "detail_uncached": "detail, cache off",
    "create": "create (POST)",
    "update": "update (PATCH)",
}


# --- server command lines ------------------------------------------------------------------


def gunicorn_ours(app: str, port: int, *extra: str) -> list[str]:
    """gunicorn as production ran it until granian (the removed deploy/gunicorn.conf.py):
    gthread, 4 threads a worker, 5 s keep-alive, 30 s timeout; ``extra`` options win."""
    return gunicorn_plain(
        app, port, "--worker-class", "gthread", "--threads", str(GTHREAD_THREADS),
        "--keep-alive", "5", "--timeout", "30", *extra,
    )  # fmt: skip


def gunicorn_plain(app: str, port: int, *extra: str) -> list[str]:
    """gunicorn without our config, as servers.start_reference_server runs the reference."""
    return [
        str(BIN / "gunicorn"),
        "--no-control-socket",
        "--workers",
        str(WORKERS),
        "--bind",
        f"127.0.0.1:{port}",
        *extra,
        app,
    ]


def granian(app: str, port: int, blocking_threads: int, *extra: str) -> list[str]:
    """Production's granian (deploy/server.py: 2 workers here, ``blocking_threads`` threads
    each, its header timeout, backpressure and respawning), on ``port``."""
    return [
        "env",
        "HOST=127.0.0.1",
        f"PORT={port}",
        f"SERVER_THREADS={blocking_threads}",
        str(BIN / "python"),
        "-m",
        "deploy.server",
        app,
        *extra,
    ]


def granian_plain(app: str, port: int, blocking_threads: int) -> list[str]:
    """granian's own command line (the reference has no launcher of ours)."""
    return [
        str(BIN / "granian"), "--interface", "wsgi", "--no-ws", "--http", "1",
        "--workers", str(WORKERS), "--blocking-threads", str(blocking_threads),
        "--host", "127.0.0.1", "--port", str(port), app,
    ]  # fmt: skip


def uwsgi(app: str, port: int, threads: int, *extra: str) -> list[str]:
    """uWSGI behind its own HTTP router (--http: an async process in C that reads whole
    requests and keeps connections alive, so a slow client does not hold a worker), 2
    processes, master, app loaded before the fork (no lazy-apps).

    Not installed by the project (it compiles from source): `pip install uwsgi` to measure it.
    --die-on-term: uWSGI 2.0 otherwise takes SIGTERM as "reload". --disable-logging: no
    per-request line (gunicorn's and granian's access logs are off too).
    """
    command = [
        str(BIN / "uwsgi"),
        # Not --http-socket (one connection per request) nor --http11-socket (a worker holds
        # a keep-alive connection: 2 processes served 2 of wrk's 32 connections).
        "--http",
        f"127.0.0.1:{port}",
        "--http-keepalive",
        "--master",
        "--processes",
        str(WORKERS),
        "--enable-threads",
        "--module",
        app,
        "--need-app",
        "--die-on-term",
        "--disable-logging",
        "--single-interpreter",
    ]
    if threads > 1:
        command += ["--threads", str(threads)]
    return [*command, *extra]


CommandFactory = Callable[[str, int], list[str]]

#: Our candidates: name -> command for (app, port). Our environment adds WEB_CONCURRENCY=2.
CANDIDATES: dict[str, CommandFactory] = {
    "gunicorn-sync": lambda app, port: gunicorn_ours(app, port, "--worker-class", "sync"),
    "gunicorn-gthread": lambda app, port: gunicorn_ours(app, port),
    "gunicorn-gthread-reuseport": lambda app, port: gunicorn_ours(app, port, "--reuse-port"),
    "granian-bt1": lambda app, port: granian(app, port, 1),
    "granian-bt4": lambda app, port: granian(app, port, 4),
    "uwsgi-p2t4": lambda app, port: uwsgi(app, port, GTHREAD_THREADS),
}
#: The reference's candidates (plain servers: the reference has no config of ours).
REFERENCE_CANDIDATES: dict[str, CommandFactory] = {
    "ref-gunicorn-sync": lambda app, port: gunicorn_plain(app, port, "--worker-class", "sync"),
    "ref-granian-bt1": lambda app, port: granian_plain(app, port, 1),
    "ref-granian-bt4": lambda app, port: granian_plain(app, port, 4),
}


# --- running the candidates ----------------------------------------------------------------


@dataclass
class Choice:
    """This run's state: the shared bench_run.Run plus what the servers did."""

    run: bench_run.Run
    servers_seen: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def start(
    choice: Choice,
    name: str,
    factory: CommandFactory,
    app: str,
    env: dict[str, str],
    *,
    cwd: Path,
    ready_path: str,
) -> Server:
    """Start one candidate (its own process group, output to a log file) and wait until ready."""
    run = choice.run
    port = free_port(run.ports)
    metrics_dir = Path(tempfile.mkdtemp(prefix="metrics-", dir=run.workdir))
    log_path = run.workdir / f"{name}-{app.split(':')[0].replace('.', '_')}-{port}.log"
    command = factory(app, port)
    server = servers.spawn(
        name,
        command,
        env={**env, "WEB_CONCURRENCY": str(WORKERS), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        cwd=cwd,
        port=port,
        log_path=log_path,
        ready_path=ready_path,
    )
    started = time.monotonic()
    server.wait_ready(bench_run.READY_TIMEOUT)
    entry = choice.servers_seen.setdefault(name, {"command": command, "starts": []})
    entry["starts"].append(
        {
            "app": app,
            "ready_seconds": round(time.monotonic() - started, 2),
            "workers": len(server.worker_pids()),
            "log": str(log_path),
        }
    )
    run.log(f"{name} ({app}): ready on {server.url} in {entry['starts'][-1]['ready_seconds']} s")
    return server


def stop(choice: Choice, server: Server) -> None:
    """Stop the server's process group; record how long SIGTERM took and how it exited."""
    started = time.monotonic()
    server.stop(timeout=bench_run.STOP_TIMEOUT)
    starts = choice.servers_seen[server.name]["starts"]
    starts[-1]["stop_seconds"] = round(time.monotonic() - started, 2)
    starts[-1]["exit_code"] = server.returncode
    starts[-1]["log_tail"] = server.log_tail(5)


def with_server(
    choice: Choice,
    name: str,
    factory: CommandFactory,
    app: str,
    env: dict[str, str],
    body: Callable[[Server], None],
    *,
    cwd: Path = ROOT,
    ready_path: str = "/readyz",
) -> None:
    """Start a server, run ``body`` on it, always stop it; a failure is recorded, not raised."""
    server: Server | None = None
    try:
        server = start(choice, name, factory, app, env, cwd=cwd, ready_path=ready_path)
        body(server)
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        message = f"{name} ({app}): {error}"[:2000]
        choice.failures.append(message)
        choice.run.log(f"  FAILED {message}")
    finally:
        if server is not None:
            stop(choice, server)


def run_candidate(choice: Choice, name: str, prepared: bench_run.Prepared) -> None:
    """Scenarios (a)-(d) of our app on one candidate: three server starts."""
    run = choice.run
    factory = CANDIDATES[name]
    seed = run.options.seed
    env = bench_run.our_environment(run)

    def ceiling(server: Server) -> None:
        bench_run.measure(run, server, "ceiling", name, bench_run.detail_load(1, 1000, seed))

    def hot(server: Server) -> None:
        low, high = bench_run.hot_range(prepared)
        bench_run.warm_cache(run, server, low, high)
        bench_run.measure(run, server, "detail", name, bench_run.detail_load(low, high, seed))
        bench_run.measure(
            run, server, "create", name, lambda: bench_run.write_load(run, "create", prepared)
        )

    def uncached(server: Server) -> None:
        load = bench_run.detail_load(prepared.low_id, prepared.high_id, seed)
        bench_run.measure(run, server, "detail_uncached", name, load)

    with_server(choice, name, factory, CEILING_APP, env, ceiling, ready_path="/")
    databases.flush_redis(run.redis_url)
    with_server(choice, name, factory, bench_run.OUR_APP, env, hot)
    databases.flush_redis(run.redis_url)
    env_off = bench_run.our_environment(run, read_cache=False)
    with_server(choice, name, factory, bench_run.OUR_APP, env_off, uncached)


def run_reference_candidate(choice: Choice, name: str, prepared: bench_run.Prepared) -> None:
    """The reference's detail, create and update on one candidate."""
    run = choice.run
    env = {
        "DJANGO_SETTINGS_MODULE": "bookstore.production_settings",
        "DATABASE_URL": run.reference_url,
    }

    def body(server: Server) -> None:
        low, high = bench_run.hot_range(prepared)
        load = bench_run.detail_load(low, high, run.options.seed)
        bench_run.measure(run, server, "detail", name, load)
        bench_run.measure_writes(run, server, name, prepared)

    app, cwd = "bookstore.wsgi:application", servers.SEED_PROJECT
    if name.startswith("ref-granian"):  # granian resolves modules by package: bench/reference_wsgi
        app, cwd = "bench.reference_wsgi:application", ROOT
    with_server(choice, name, REFERENCE_CANDIDATES[name], app, env, body, cwd=cwd, ready_path="/")


# --- output --------------------------------------------------------------------------------


def ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}x" if base else "-"


def table(measurements: dict[str, dict[str, Any]], order: list[str], baseline: str) -> list[str]:
    """One line per scenario x server: req/s, its ratio to ``baseline``, p50, p99, errors, load."""
    lines = [
        f"{'scenario':<16}{'server':<28}{'req/s':>9}{'vs ' + baseline[:12]:>18}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'load b/a':>12}"
    ]
    for scenario in SCENARIOS:
        systems = measurements.get(scenario, {})
        base = systems.get(baseline, {}).get("requests_per_second")
        for name in order:
            entry = systems.get(name)
            if not entry:
                continue
            rps = entry["requests_per_second"]
            p50 = entry["p50_ms"] or 0.0
            p99 = entry["p99_ms"] or 0.0
            before, after = entry["load_average_before_after"]
            lines.append(
                f"{scenario:<16}{name:<28}{rps:>9,.0f}{ratio(rps, base):>18}"
                f"{p50:>9.2f}{p99:>9.2f}{entry['errors']:>8,}{f'{before:.2f}/{after:.2f}':>12}"
            )
    return lines


# --- main ----------------------------------------------------------------------------------


def names(
    text: str | None, known: dict[str, CommandFactory], parser: argparse.ArgumentParser
) -> list[str]:
    chosen = [name.strip() for name in (text or ",".join(known)).split(",") if name.strip()]
    unknown = [name for name in chosen if name not in known]
    if unknown:
        parser.error(f"unknown candidates {unknown}; known: {', '.join(known)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=20_000, help="books to load")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up before each")
    parser.add_argument("--candidates", help=f"ours, in order, of {','.join(CANDIDATES)}")
    parser.add_argument(
        "--reference-candidates", help=f"the reference's, of {','.join(REFERENCE_CANDIDATES)}"
    )
    parser.add_argument("--reverse", action="store_true", help="measure in the reverse order")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated catalogue")
    arguments = parser.parse_args(argv)
    ours = names(arguments.candidates, CANDIDATES, parser)
    references = names(arguments.reference_candidates, REFERENCE_CANDIDATES, parser)
    missing = [name for name in ours if name.startswith("uwsgi") and not (BIN / "uwsgi").exists()]
    for name in missing:
        print(f"{name}: skipped, uWSGI is not installed (pip install uwsgi)")
        ours.remove(name)
    if arguments.reverse:
        ours.reverse()
        references.reverse()
    for tool in ("wrk", "timeout"):
        if not shutil.which(tool):
            parser.error(f"{tool} is not on PATH")

    database_url = os.environ.get("SERVER_CHOICE_DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = DEFAULT_REDIS_URL
    databases.database_name(database_url)  # refuses a database not named bench...
    options = bench_run.Options(
        rows=arguments.rows,
        duration=arguments.duration,
        warmup=arguments.warmup,
        connections=32,
        threads=2,
        systems=("ours", "reference"),
        soak=0,
        compare=None,
        seed=arguments.seed,
        workers=WORKERS,
    )
    load_before = os.getloadavg()
    started = time.monotonic()
    with ExitStack() as cleanup:
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="server-choice-")))
        # Keep the servers' logs: copied next to the results before the workdir goes.
        run = bench_run.Run(
            options=options,
            workdir=workdir,
            database_url=database_url,
            reference_url=databases.with_database(database_url, REFERENCE_DATABASE),
            redis_url=redis_url,
            isbn_prefixes=iter(range(100 + (os.getpid() % 300), 1000)),
        )
        cleanup.callback(bench_run._quietly, databases.drop_database, run.reference_url)
        cleanup.callback(bench_run._quietly, databases.drop_database, database_url)
        cleanup.callback(bench_run._quietly, databases.flush_redis, redis_url)
        choice = Choice(run)
        print(
            f"Server choice: {options.rows:,} books, wrk -t2 -c32, {options.duration:g} s after "
            f"{options.warmup:g} s warm-up; {os.cpu_count()} cores; load average "
            f"{' '.join(f'{value:.2f}' for value in load_before)}; order {', '.join(ours)}"
        )
        catalogue = write_catalogue(workdir / "books.csv", options.rows, options.seed)
        ours_prepared = bench_run.prepare_ours(run, catalogue)
        reference_prepared = bench_run.prepare_reference(run, catalogue)
        for name in ours:
            run_candidate(choice, name, ours_prepared)
        for name in references:
            run_reference_candidate(choice, name, reference_prepared)

        load_after = os.getloadavg()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        logs = RESULTS / f"server-choice-{stamp}-logs"
        logs.mkdir(parents=True, exist_ok=True)
        for log in workdir.glob("*.log"):
            shutil.copy(log, logs / log.name)
        result: dict[str, Any] = {
            "rows": options.rows,
            "started_at": stamp,
            "total_seconds": round(time.monotonic() - started, 1),
            "order": ours,
            "reference_order": references,
            "workers": WORKERS,
            "wrk": {
                "threads": 2,
                "connections": 32,
                "seconds": options.duration,
                "warmup_seconds": options.warmup,
            },
            "scenarios": SCENARIOS,
            "servers": choice.servers_seen,
            "measurements": run.measurements,
            "failures": choice.failures,
            "logs": str(logs.relative_to(ROOT)),
            "load_average_before_after": [list(load_before), list(load_after)],
            "machine": bench_run.machine_info(run),
        }
        path = RESULTS / f"server-choice-{stamp}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")

    print()
    print("\n".join(table(run.measurements, ours, BASELINE)))
    print()
    print("\n".join(table(run.measurements, references, REFERENCE_BASELINE)))
    for failure in choice.failures:
        print(f"FAILED: {failure[:300]}")
    print(
        f"\nWrote {path.relative_to(ROOT)}; {result['total_seconds']:.0f} s; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
