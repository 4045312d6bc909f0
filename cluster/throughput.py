"""Throughput through nginx with 1, 2 and 3 app instances, measured with wrk (bench/wrk.py).

The load: authenticated GETs of random seeded books (bench/lua/common.lua's `detail`
generator with a token that never writes), so every request runs Django and reads from the
replica. Anonymous reads would mostly measure the Redis read cache in front of Django, which
does not grow with instances. Each instance is one granian worker process (WEB_CONCURRENCY=1,
4 threads), so k instances are k worker processes sharing this machine's cores with
PostgreSQL, nginx and wrk itself.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.wrk import Load, LoadResult, LoadShape, run_wrk

SECONDS = 8.0
CONNECTIONS = 16
THREADS = 2


@dataclass(frozen=True)
class Step:
    instances: int
    result: LoadResult
    #: Share of the machine's CPU time (all cores) that was busy during the run: near 1.0,
    #: more instances cannot help.
    cpu_busy: float

    def as_dict(self) -> dict[str, Any]:
        return {"instances": self.instances, "cpu_busy": self.cpu_busy, **self.result.as_dict()}


def cpu_times() -> tuple[int, int]:
    """The machine's (busy, total) CPU time so far, in clock ticks, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return total - idle, total


def measure(port: int, *, token: str, book_ids: tuple[int, int], instances: int) -> Step:
    load = Load(
        "detail",
        {"min_id": str(book_ids[0]), "max_id": str(book_ids[1]), "seed": str(instances)},
        {"Authorization": f"Token {token}"},
    )
    shape = LoadShape(threads=THREADS, connections=CONNECTIONS, seconds=SECONDS)
    busy_before, total_before = cpu_times()
    result = run_wrk(f"http://127.0.0.1:{port}", load, shape)
    busy_after, total_after = cpu_times()
    busy = (busy_after - busy_before) / max(1, total_after - total_before)
    return Step(instances, result, round(busy, 3))


def table(steps: list[Step], cores: int) -> list[str]:
    """The steps as a text table, with each step's speed-up over one instance."""
    lines = [
        f"Throughput through nginx ({CONNECTIONS} connections, {SECONDS:.0f} s each, "
        f"authenticated GET /books/<random id>/ read from the replica; {cores} cores shared "
        "by everything)",
        f"{'instances':>9}  {'req/s':>8}  {'speed-up':>8}  {'p50 ms':>7}  {'p99 ms':>7}  "
        f"{'requests':>8}  {'errors':>6}  {'CPU busy':>8}",
    ]
    base = steps[0].result.requests_per_second if steps else 0.0
    for step in steps:
        result = step.result
        speedup = result.requests_per_second / base if base else 0.0
        lines.append(
            f"{step.instances:>9}  {result.requests_per_second:>8.1f}  {speedup:>7.2f}x  "
            f"{_ms(result.p50_ms):>7}  {_ms(result.p99_ms):>7}  {result.requests:>8}  "
            f"{result.errors:>6}  {step.cpu_busy:>8.0%}"
        )
    return lines


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
