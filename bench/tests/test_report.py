"""Ratios of ours to each system, the table's rows, and comparing two runs."""

from typing import Any

import pytest

from bench.report import (
    compare_runs,
    compute_ratios,
    ratio,
    soak_verdict,
    table_rows,
    within_factor,
)


def entry(rps: float, p50: float, errors: int = 0, p99: float | None = None) -> dict[str, Any]:
    return {
        "requests": int(rps * 10),
        "requests_per_second": rps,
        "p50_ms": p50,
        "p99_ms": p99 if p99 is not None else p50 * 4,
        "errors": errors,
    }


MEASUREMENTS = {
    "detail": {
        "ours": entry(1000, 5),
        "reference": entry(250, 20),
        "seed": entry(100, 50, errors=3),
    },
    "search": {"ours": entry(400, 10), "reference": {"skipped": "the seed has no filters"}},
    "ceiling": {"ceiling": entry(4000, 1)},
}
TITLES = {"detail": "detail", "search": "search", "ceiling": "ceiling"}


def test_ratio_is_none_without_both_numbers() -> None:
    assert ratio(3, 2) == 1.5
    assert ratio(None, 2) is None
    assert ratio(3, 0) is None


def test_ratios_are_ours_against_each_other_system_and_the_ceiling() -> None:
    ratios = compute_ratios(MEASUREMENTS)

    assert ratios["detail"]["reference"] == {"requests_per_second": 4.0, "p50_latency": 4.0}
    assert ratios["detail"]["seed"] == {"requests_per_second": 10.0, "p50_latency": 10.0}
    assert ratios["detail"]["ceiling"] == {"requests_per_second": 0.25, "p50_latency": 0.2}
    assert ratios["search"] == {"ceiling": {"requests_per_second": 0.1, "p50_latency": 0.1}}
    assert "ceiling" not in ratios


def test_table_rows_group_systems_under_their_scenario() -> None:
    rows = table_rows(MEASUREMENTS, TITLES)

    assert [row[:2] for row in rows] == [
        ("detail", "ours (ratios: vs ceiling)"),
        ("", "production reference"),
        ("", "seed (lecture, runserver)"),
        ("search", "ours (ratios: vs ceiling)"),
        ("", "production reference"),
        ("ceiling", "ceiling (bare WSGI)"),
    ]
    assert rows[0][2:] == ("1,000.0", "5.00", "20.00", "0", "0.25x", "0.20x")
    assert rows[1][2:] == ("250.0", "20.00", "80.00", "0", "4.00x", "4.00x")
    assert rows[2][5] == "3"
    assert rows[4][2] == "n/a"
    assert rows[4][6] == "the seed has no filters"


def test_comparing_runs_divides_now_by_then() -> None:
    now = {"measurements": {"detail": {"ours": entry(900, 6, p99=30)}}}
    then = {"measurements": {"detail": {"ours": entry(1000, 5, p99=20)}, "x": {}}}

    (row,) = compare_runs(now, then)

    assert row == {
        "scenario": "detail",
        "requests_per_second": 0.9,
        "p50_latency": 1.2,
        "p99_latency": 1.5,
        "errors_now": 0,
        "errors_then": 0,
    }
    assert within_factor(row, 1.3)
    assert not within_factor({**row, "p50_latency": 1.31}, 1.3)
    assert not within_factor({**row, "requests_per_second": 0.75}, 1.3)
    assert not within_factor({**row, "errors_now": 4}, 1.3)


def sample(seconds: float, **rss: int) -> dict[str, Any]:
    return {"seconds": seconds, "rss_kib": rss}


def test_soak_growth_is_measured_from_the_level_after_the_first_minute() -> None:
    samples = [
        sample(0, a=50_000, b=50_000),
        sample(60, a=80_000, b=80_000),
        sample(120, a=85_000, b=90_000),
        sample(180, a=86_000, b=95_000),
    ]

    verdict = soak_verdict(samples)

    assert verdict["workers"]["a"]["baseline_kib"] == 80_000
    assert verdict["workers"]["a"]["grew"] is False
    assert verdict["workers"]["b"]["growth"] == pytest.approx(0.1875)
    assert verdict["workers"]["b"]["peak_kib"] == 95_000
    assert verdict["grew"] is True
    assert "b" in verdict["verdict"]


def test_a_worker_gone_before_the_end_does_not_count_as_growing() -> None:
    samples = [sample(0, a=50_000), sample(60, a=50_000), sample(120, a=90_000, c=40_000)]
    samples.append(sample(180, c=40_000))

    verdict = soak_verdict(samples)

    assert verdict["workers"]["a"]["lived_to_end"] is False
    assert verdict["grew"] is False


def test_a_soak_shorter_than_two_minutes_gives_no_verdict() -> None:
    samples = [sample(0, a=50_000), sample(60, a=50_000), sample(110, a=90_000)]

    verdict = soak_verdict(samples)

    assert verdict["grew"] is None
    assert "too short" in verdict["verdict"]


def test_cpu_seconds_are_counted_by_role_and_only_for_the_interval() -> None:
    from bench.cpu import TICKS_PER_SECOND, Process, seconds_by_role

    before = {
        10: Process(ticks=100, group=10, name="python"),  # the server's main process
        11: Process(ticks=50, group=10, name="python"),  # a worker
        20: Process(ticks=400, group=20, name="postgres"),
        30: Process(ticks=7, group=30, name="redis-server"),
    }
    after = {
        10: Process(ticks=100 + TICKS_PER_SECOND, group=10, name="python"),
        11: Process(ticks=50 + 2 * TICKS_PER_SECOND, group=10, name="python"),
        12: Process(ticks=TICKS_PER_SECOND, group=10, name="python"),  # a new worker
        20: Process(ticks=400 + TICKS_PER_SECOND // 2, group=20, name="postgres"),
        30: Process(ticks=7, group=30, name="redis-server"),
        40: Process(ticks=TICKS_PER_SECOND, group=40, name="wrk"),
    }

    spent = seconds_by_role(before, after, server_group=10)

    assert spent == {"server": 4.0, "postgres": 0.5, "redis": 0.0, "wrk": 1.0, "other": 0.0}
