"""Running wrk with bench/lua/load.lua and reading what it reports.

The script prints one ``BENCH_RESULT {json}`` line (bench/lua/common.lua) with exact counts,
non-2xx responses included; wrk's own text (``--latency``) is the fallback and the check.
"""

import json
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LUA_DIR = Path(__file__).resolve().parent / "lua"
RESULT_PREFIX = "BENCH_RESULT "
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = re.compile(r"^\s*([\d.]+)(us|ms|s|m|h)\s*$")


@dataclass
class LoadResult:
    """One wrk run: throughput, latency percentiles (ms) and every kind of failure."""

    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    socket_errors: int  # connect, read, write errors and timeouts
    non2xx: int  # responses outside 200-299, 3xx included
    statuses: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    timeouts: int = 0
    bytes_read: int = 0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non2xx

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "errors": self.errors}


def duration_ms(text: str) -> float:
    """wrk's human duration ("812.00us", "1.20ms", "2.01s", "1.00m") in milliseconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk_output(text: str) -> LoadResult:
    """Read wrk's output: the scripts' BENCH_RESULT line if there is one, else wrk's text."""
    for line in text.splitlines():
        if line.startswith(RESULT_PREFIX):
            return _from_script_line(json.loads(line[len(RESULT_PREFIX) :]))
    return _from_wrk_text(text)


def _from_script_line(data: dict[str, Any]) -> LoadResult:
    requests = int(data["requests"])
    seconds = int(data["duration_us"]) / 1e6
    completed = requests > 0

    def ms(key: str) -> float | None:
        return round(int(data[key]) / 1000, 3) if completed else None

    return LoadResult(
        requests=requests,
        seconds=round(seconds, 3),
        requests_per_second=round(requests / seconds, 1) if seconds else 0.0,
        p50_ms=ms("p50_us"),
        p90_ms=ms("p90_us"),
        p99_ms=ms("p99_us"),
        socket_errors=sum(
            int(data[key]) for key in ("connect_errors", "read_errors", "write_errors", "timeouts")
        ),
        non2xx=int(data["non2xx"]),
        statuses={str(key): int(value) for key, value in data.get("statuses", {}).items()},
        error_samples=[str(sample) for sample in data.get("error_samples", [])],
        timeouts=int(data["timeouts"]),
        bytes_read=int(data.get("bytes", 0)),
    )


def _from_wrk_text(text: str) -> LoadResult:
    totals = re.search(r"(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read", text)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not totals or not rate:
        raise ValueError("no wrk summary in the output:\n" + text[-2000:])
    percentiles: dict[str, float] = {}
    for match in re.finditer(r"^\s+(50|90|99)(?:\.000)?%\s+(\S+)\s*$", text, re.MULTILINE):
        percentiles[match.group(1)] = round(duration_ms(match.group(2)), 3)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    socket_errors = sum(int(count) for count in socket.groups()) if socket else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    requests = int(totals.group(1))
    return LoadResult(
        requests=requests,
        seconds=round(duration_ms(totals.group(2)) / 1000, 3),
        requests_per_second=float(rate.group(1)),
        p50_ms=percentiles.get("50") if requests else None,
        p90_ms=percentiles.get("90") if requests else None,
        p99_ms=percentiles.get("99") if requests else None,
        socket_errors=socket_errors,
        non2xx=int(non2xx.group(1)) if non2xx else 0,
        timeouts=int(socket.group(4)) if socket else 0,
    )


@dataclass(frozen=True)
class Load:
    """What to send: a request generator of bench/lua/common.lua, its key=value arguments,
    extra headers."""

    generator: str
    arguments: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadShape:
    threads: int = 2
    connections: int = 32
    seconds: float = 10.0
    timeout_seconds: float = 10.0


def wrk_command(url: str, load: Load, shape: LoadShape) -> list[str]:
    threads = max(1, min(shape.threads, shape.connections))
    command = [
        shutil.which("wrk") or "wrk",
        f"-t{threads}",
        f"-c{shape.connections}",
        f"-d{max(1, round(shape.seconds))}s",
        f"--timeout={max(1, round(shape.timeout_seconds))}s",
        "--latency",
        "-s",
        str(LUA_DIR / "load.lua"),
        "-H",
        "Accept: application/json",
    ]
    for name, value in load.headers.items():
        command += ["-H", f"{name}: {value}"]
    arguments = {"generator": load.generator, **load.arguments}
    command += [url, "--", *(f"{key}={value}" for key, value in arguments.items())]
    return command


def run_wrk(url: str, load: Load, shape: LoadShape) -> LoadResult:
    """Run wrk against ``url`` (loopback only) under timeout(1), so that it stops by itself
    even if this process dies, and return what it measured; raise if wrk itself fails."""
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"load only goes to the loopback, not {url}")
    limit = round(shape.seconds + shape.timeout_seconds + 30)
    command = ["timeout", "--kill-after=5", str(limit), *wrk_command(url, load, shape)]
    completed = subprocess.run(  # noqa: S603 - our own command line
        command,
        env={**os.environ, "BENCH_LUA_DIR": str(LUA_DIR)},
        capture_output=True,
        text=True,
        timeout=limit + 15,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"wrk failed ({completed.returncode}): {' '.join(command)}\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
        )
    return parse_wrk_output(completed.stdout)
