"""A statement slower than SLOW_QUERY_MS is logged as `slow_query` with its SQL and timing;
the instrumentation that does it leaves Django's own query capture and wrappers alone."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.db_instrumentation import SQL_LOG_MAX_CHARS, QueryInstrumentation, expected_slow_queries
from core.tests.conftest import LogLines


def slow_queries(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == "slow_query"]


def run(sql: str, params: Any = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_a_statement_over_the_threshold_is_logged_with_sql_and_timing(
    json_logs: LogLines, settings: Any
) -> None:
    settings.SLOW_QUERY_MS = 0

    run("SELECT 1")

    (line,) = slow_queries(json_logs())
    assert line["level"] == "warning"
    assert line["sql"] == "SELECT 1"
    assert line["alias"] == "default"
    assert line["threshold_ms"] == 0
    assert line["duration_ms"] >= 0
    assert line["many"] is False


@pytest.mark.django_db
def test_a_statement_under_the_threshold_is_not_logged(json_logs: LogLines, settings: Any) -> None:
    settings.SLOW_QUERY_MS = 60_000

    run("SELECT 1")

    assert slow_queries(json_logs()) == []


@pytest.mark.django_db
def test_the_parameters_of_a_slow_statement_are_never_logged(
    json_logs: LogLines, settings: Any
) -> None:
    settings.SLOW_QUERY_MS = 0

    run("SELECT %s", ["a-password-in-a-parameter"])

    (line,) = slow_queries(json_logs())
    assert "a-password-in-a-parameter" not in str(line)
    assert line["sql"] == "SELECT %s"


@pytest.mark.django_db
def test_a_long_statement_is_cut_in_the_log(json_logs: LogLines, settings: Any) -> None:
    settings.SLOW_QUERY_MS = 0
    sql = "SELECT " + ", ".join(["1"] * 1000)

    run(sql)

    (line,) = slow_queries(json_logs())
    assert line["sql"] == sql[:SQL_LOG_MAX_CHARS]


@pytest.mark.django_db
def test_django_still_captures_every_query(settings: Any) -> None:
    settings.SLOW_QUERY_MS = 0

    with CaptureQueriesContext(connection) as captured:
        run("SELECT 1")
        run("SELECT 2")

    assert [query["sql"] for query in captured.captured_queries] == ["SELECT 1", "SELECT 2"]


@pytest.mark.django_db
def test_a_connection_opened_inside_an_execute_wrapper_block_keeps_both_wrappers_right() -> None:
    seen: list[str] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    fresh = connection.copy()  # a new connection object, not yet connected nor instrumented
    try:
        with fresh.execute_wrapper(spy), fresh.cursor() as cursor:
            cursor.execute("SELECT 1")  # connects here, and our instrumentation is added then
        with fresh.cursor() as cursor:
            cursor.execute("SELECT 2")
    finally:
        fresh.close()

    assert seen == ["SELECT 1"]  # the caller's wrapper left with its block; ours stayed
    assert [type(wrapper) for wrapper in fresh.execute_wrappers] == [QueryInstrumentation]


@pytest.mark.django_db
def test_statements_expected_to_be_slow_are_not_logged_as_slow(
    json_logs: LogLines, settings: Any
) -> None:
    """A bulk import's batch is slow by design: counted, but not a slow_query warning."""
    settings.SLOW_QUERY_MS = 0
    with expected_slow_queries():
        run("SELECT 1")
    assert not slow_queries(json_logs())

    run("SELECT 1")
    assert slow_queries(json_logs())
