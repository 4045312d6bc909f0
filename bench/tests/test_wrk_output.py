"""Reading wrk's output: the scripts' BENCH_RESULT line, and wrk's own text as the fallback."""

import json

import pytest

from bench.wrk import duration_ms, parse_wrk_output

WRK_TEXT = """Running 10s test @ http://127.0.0.1:20001
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.46ms    8.62ms   1.02s    91.06%
    Req/Sec     4.39k     2.48k   11.43k    71.79%
  Latency Distribution
     50%  812.00us
     75%    5.80ms
     90%   12.98ms
     99%    1.20s
  17665 requests in 10.09s, 7.60MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 25
Requests/sec:   1750.74
Transfer/sec:      0.75MB
"""


def script_line(**overrides: object) -> str:
    data = {
        "requests": 1000,
        "duration_us": 2_000_000,
        "bytes": 123456,
        "connect_errors": 0,
        "read_errors": 1,
        "write_errors": 0,
        "timeouts": 2,
        "non2xx": 7,
        "statuses": {"200": 993, "302": 3, "500": 4},
        "error_samples": ["500 oops"],
        "p50_us": 1500,
        "p90_us": 4000,
        "p99_us": 12345,
        "p999_us": 20000,
        "mean_us": 2000.5,
        "max_us": 30000,
    }
    data.update(overrides)
    return "BENCH_RESULT " + json.dumps(data)


def test_the_script_line_wins_over_wrks_text() -> None:
    result = parse_wrk_output(WRK_TEXT + script_line() + "\n")

    assert result.requests == 1000
    assert result.requests_per_second == 500.0
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (1.5, 4.0, 12.345)
    assert result.statuses == {"200": 993, "302": 3, "500": 4}
    assert result.error_samples == ["500 oops"]


def test_errors_are_socket_errors_plus_responses_outside_2xx() -> None:
    result = parse_wrk_output(script_line(read_errors=1, timeouts=2, non2xx=7))

    assert result.socket_errors == 3
    assert result.non2xx == 7
    assert result.errors == 10
    assert result.as_dict()["errors"] == 10


def test_a_run_without_a_completed_request_has_no_latency() -> None:
    result = parse_wrk_output(script_line(requests=0, p50_us=0, p99_us=0, timeouts=2))

    assert result.requests_per_second == 0.0
    assert result.p50_ms is None
    assert result.p99_ms is None
    assert result.errors == 3 + 7  # read 1 + timeouts 2, non2xx 7


def test_wrks_text_is_read_when_the_script_printed_nothing() -> None:
    result = parse_wrk_output(WRK_TEXT)

    assert result.requests == 17665
    assert result.requests_per_second == 1750.74
    assert result.seconds == 10.09
    assert result.p50_ms == 0.812
    assert result.p90_ms == 12.98
    assert result.p99_ms == 1200.0
    assert result.socket_errors == 1 + 2 + 3 + 4
    assert result.timeouts == 4
    assert result.non2xx == 25
    assert result.errors == 35


def test_output_without_a_summary_is_an_error() -> None:
    with pytest.raises(ValueError, match="no wrk summary"):
        parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("812.00us", 0.812), ("1.20ms", 1.2), ("2.01s", 2010.0), ("1.50m", 90_000.0)],
)
def test_wrk_durations_are_read_in_milliseconds(text: str, expected: float) -> None:
    assert duration_ms(text) == pytest.approx(expected)


def test_a_duration_without_a_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="not a wrk duration"):
        duration_ms("12")
