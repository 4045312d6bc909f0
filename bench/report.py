"""The benchmark's results: ratios between systems, the printed table, comparing two runs.

Measurements are plain dicts, as written to JSON: ``measurements[scenario][system]`` is a
LoadResult's dict, or ``{"skipped": "why"}`` when a system cannot run a scenario.
"""

from typing import Any

OURS = "ours"
#: Systems in the order of the table; ratios are always ours against each of the others.
SYSTEMS = (OURS, "reference", "seed", "ceiling")
SYSTEM_TITLES = {
    OURS: "ours (ratios: vs ceiling)",
    "reference": "production reference",
    "seed": "seed (lecture, runserver)",
    "ceiling": "ceiling (bare WSGI)",
}
#: The ceiling answers one fixed body: every scenario of ours is compared with that one run.
CEILING_SCENARIO = "ceiling"

Measurements = dict[str, dict[str, dict[str, Any]]]


def measured(entry: dict[str, Any] | None) -> bool:
    """True if ``entry`` is a run that completed requests (not skipped, not empty)."""
    return entry is not None and "skipped" not in entry and bool(entry.get("requests"))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return round(numerator / denominator, 3)


def reference_entry(
    measurements: Measurements, scenario: str, system: str
) -> dict[str, Any] | None:
    """What ours is compared with in ``scenario`` for ``system``: the ceiling's single run for
    the ceiling, the system's own run of the scenario for the others."""
    if system == "ceiling":
        return measurements.get(CEILING_SCENARIO, {}).get("ceiling")
    return measurements.get(scenario, {}).get(system)


def compute_ratios(measurements: Measurements) -> dict[str, dict[str, dict[str, float | None]]]:
    """For each scenario ours ran: ours/other for requests per second, and other/ours for the
    median latency (so above 1 is better for ours in both)."""
    ratios: dict[str, dict[str, dict[str, float | None]]] = {}
    for scenario, systems in measurements.items():
        ours = systems.get(OURS)
        if scenario == CEILING_SCENARIO or not measured(ours):
            continue
        assert ours is not None
        for system in SYSTEMS[1:]:
            other = reference_entry(measurements, scenario, system)
            if not measured(other):
                continue
            assert other is not None
            ratios.setdefault(scenario, {})[system] = {
                "requests_per_second": ratio(
                    ours["requests_per_second"], other["requests_per_second"]
                ),
                "p50_latency": ratio(other.get("p50_ms"), ours.get("p50_ms")),
            }
    return ratios


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _times(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}x"


def table_rows(
    measurements: Measurements, scenario_titles: dict[str, str]
) -> list[tuple[str, ...]]:
    """Rows of (scenario, system, req/s, p50 ms, p99 ms, errors, ours÷this req/s,
    this÷ours p50): one group per scenario, ours first, its ratios to the ceiling on its own
    row; n/a rows say why."""
    ratios = compute_ratios(measurements)
    rows: list[tuple[str, ...]] = []
    for scenario, title in scenario_titles.items():
        systems = measurements.get(scenario)
        if not systems:
            continue
        first = True
        for system in SYSTEMS:
            entry = systems.get(system)
            if entry is None:
                continue
            label = title if first else ""
            first = False
            if "skipped" in entry:
                rows.append((label, SYSTEM_TITLES[system], "n/a", "", "", "", entry["skipped"], ""))
                continue
            # Ours is compared with the ceiling on its own row: the ceiling ran only once.
            against = ratios.get(scenario, {}).get("ceiling" if system == OURS else system, {})
            rows.append(
                (
                    label,
                    SYSTEM_TITLES[system],
                    _number(entry["requests_per_second"]),
                    _number(entry.get("p50_ms"), 2),
                    _number(entry.get("p99_ms"), 2),
                    f"{entry['errors']:,}",
                    _times(against.get("requests_per_second")),
                    _times(against.get("p50_latency")),
                )
            )
    return rows


TABLE_HEADERS = (
    "scenario",
    "system",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "ours÷this req/s",
    "this÷ours p50",
)
TABLE_CAPTION = (
    "Ratios above 1: ours is faster. On ours' rows: ours against the ceiling (a fixed body "
    "from a bare WSGI app on our server)."
)


def print_table(
    measurements: Measurements, scenario_titles: dict[str, str], title: str = ""
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None, caption=TABLE_CAPTION, show_lines=False)
    for index, header in enumerate(TABLE_HEADERS):
        table.add_column(header, justify="left" if index < 2 else "right", no_wrap=index < 6)
    previous = ""
    for row in table_rows(measurements, scenario_titles):
        if row[0] and previous:
            table.add_section()
        previous = row[0] or previous
        table.add_row(*row)
    Console(width=max(Console().width, 150)).print(table)


def compare_runs(current: dict[str, Any], previous: dict[str, Any]) -> list[dict[str, Any]]:
    """Ours in ``current`` against ours in ``previous``, scenario by scenario: the ratio of
    requests per second and of median latency (current / previous)."""
    rows = []
    for scenario, systems in current["measurements"].items():
        now = systems.get(OURS)
        before = previous.get("measurements", {}).get(scenario, {}).get(OURS)
        if not measured(now) or not measured(before):
            continue
        assert now is not None
        assert before is not None
        rows.append(
            {
                "scenario": scenario,
                "requests_per_second": ratio(
                    now["requests_per_second"], before["requests_per_second"]
                ),
                "p50_latency": ratio(now.get("p50_ms"), before.get("p50_ms")),
                "p99_latency": ratio(now.get("p99_ms"), before.get("p99_ms")),
                "errors_now": now.get("errors", 0),
                "errors_then": before.get("errors", 0),
            }
        )
    return rows


def within_factor(row: dict[str, Any], factor: float) -> bool:
    """True if the current run is no more than ``factor`` times slower than the previous
    (median latency at most factor times, throughput at least 1/factor) and has no errors
    the previous did not have."""
    latency, rate = row.get("p50_latency"), row.get("requests_per_second")
    return (
        latency is not None
        and rate is not None
        and latency <= factor
        and rate >= 1 / factor
        and (row.get("errors_now", 0) == 0 or row.get("errors_then", 0) > 0)
    )


def soak_verdict(
    samples: list[dict[str, Any]], limit: float = 0.10, settle: float = 60.0
) -> dict[str, Any]:
    """Per worker: start (first sample), baseline (first sample after ``settle`` seconds),
    end and peak RSS; grew = end above baseline by more than ``limit``. A soak that ends
    before twice ``settle`` gives no verdict (grew is None): the first minute is warm-up."""
    workers: dict[str, dict[str, Any]] = {}
    for sample in samples:
        for pid, kib in sample["rss_kib"].items():
            if kib is None:
                continue
            worker = workers.setdefault(
                pid, {"start_kib": kib, "baseline_kib": None, "peak_kib": kib, "end_kib": kib}
            )
            if worker["baseline_kib"] is None and sample["seconds"] >= settle:
                worker["baseline_kib"] = kib
            worker["peak_kib"] = max(worker["peak_kib"], kib)
            worker["end_kib"] = kib
            worker["last_seconds"] = sample["seconds"]
    end = samples[-1]["seconds"] if samples else 0
    for worker in workers.values():
        baseline = worker["baseline_kib"] or worker["start_kib"]
        worker["baseline_kib"] = baseline
        worker["growth"] = round(worker["end_kib"] / baseline - 1, 4) if baseline else None
        worker["lived_to_end"] = worker.pop("last_seconds") == end
        worker["grew"] = bool(worker["growth"] is not None and worker["growth"] > limit)
    grew = [pid for pid, worker in workers.items() if worker["grew"] and worker["lived_to_end"]]
    if end < 2 * settle:
        return {
            "workers": workers,
            "grew": None,
            "verdict": f"too short to judge: {end:.0f} s (the first {settle:.0f} s are warm-up; "
            f"soak for at least {2 * settle:.0f} s)",
        }
    return {
        "workers": workers,
        "grew": bool(grew),
        "verdict": (
            f"memory grew more than {limit:.0%} in worker(s) {', '.join(grew)}"
            if grew
            else f"no worker grew more than {limit:.0%} after the first minute"
        ),
    }
