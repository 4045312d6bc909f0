"""The pieces of bench/search_sql.py that need no database: scripts, logs, samples, percentiles."""

from pathlib import Path

from bench.search_sql import percentile, script, spread, transactions


def test_script_ends_every_statement_once() -> None:
    text = script(["BEGIN", "SELECT 1;", "SELECT 'a;b'  ", "COMMIT"])
    assert text == "BEGIN;\nSELECT 1;\nSELECT 'a;b';\nCOMMIT;\n"


def test_transactions_read_every_log_and_mark_failures(tmp_path: Path) -> None:
    # pgbench --log: client, transaction, latency in µs (or "failed"), script, epoch s, epoch µs
    (tmp_path / "pgbench_log.100").write_text(
        "0 0 2500 0 1700000000 250000\n1 0 failed 3 1700000001 0\n"
    )
    (tmp_path / "pgbench_log.100.1").write_text("2 0 40000 1 1700000002 500000\nshort line\n")
    (tmp_path / "other.txt").write_text("0 0 9 0 1 0\n")
    logged = sorted(transactions(tmp_path))
    assert logged == [(1700000000.25, 2.5), (1700000001.0, None), (1700000002.5, 40.0)]


def test_spread_takes_evenly_through_the_paths() -> None:
    paths = [f"/p{number}" for number in range(10)]
    assert spread(paths, 5) == ["/p0", "/p2", "/p4", "/p6", "/p8"]
    assert spread(paths[:3], 5) == paths[:3]


def test_percentile_is_a_measured_value_at_or_above_the_share() -> None:
    ordered = [float(value) for value in range(1, 101)]
    assert percentile(ordered, 0.50) == 50.0
    assert percentile(ordered, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
