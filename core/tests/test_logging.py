"""Log lines: JSON objects in production, readable text in development, and every line written
while a request is served, whoever wrote it, carries that request's id."""

import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog
from django.test import Client

from bookstore.tests.test_settings import KEY, copy_settings_package, run_with_settings
from core.logging import build_formatter
from core.tests.conftest import LogLines


def render(log_format: str, record: logging.LogRecord) -> str:
    return build_formatter(log_format=log_format).format(record)


def stdlib_record(message: str, *args: Any, exc_info: Any = None) -> logging.LogRecord:
    return logging.LogRecord(
        "books.importing", logging.WARNING, __file__, 1, message, args, exc_info
    )


# --- the formats ----------------------------------------------------------------------


def test_a_stdlib_line_in_json_has_event_level_logger_and_utc_timestamp() -> None:
    line = json.loads(render("json", stdlib_record("skipped %d rows", 3)))

    assert line["event"] == "skipped 3 rows"
    assert line["level"] == "warning"
    assert line["logger"] == "books.importing"
    assert line["timestamp"].endswith("Z")


def test_an_exception_in_json_is_one_line_with_the_traceback_as_a_field() -> None:
    try:
        raise ValueError("the cause")
    except ValueError:
        rendered = render("json", stdlib_record("import failed", exc_info=sys.exc_info()))

    assert "\n" not in rendered
    line = json.loads(rendered)
    assert line["event"] == "import failed"
    assert "Traceback" in line["exception"]
    assert "ValueError: the cause" in line["exception"]


def test_structlog_key_values_are_json_fields(json_logs: LogLines) -> None:
    structlog.stdlib.get_logger("books.services").info("book_created", book_id=7, isbn="x")

    (line,) = json_logs()
    assert line["event"] == "book_created"
    assert line["book_id"] == 7
    assert line["isbn"] == "x"
    assert line["logger"] == "books.services"
    assert line["level"] == "info"


def test_the_console_format_is_readable_text_not_json() -> None:
    rendered = render("console", stdlib_record("skipped %d rows", 3))

    assert "skipped 3 rows" in rendered
    assert "books.importing" in rendered
    with pytest.raises(json.JSONDecodeError):
        json.loads(rendered)


def test_an_unknown_format_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="LOG_FORMAT must be one of json, console, not 'xml'"):
        build_formatter(log_format="xml")


# --- the request id in every line -----------------------------------------------------


class BrokenCache:
    def set(self, *args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@pytest.mark.django_db
def test_every_line_of_a_request_carries_its_id(
    json_logs: LogLines, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    # Lines from everyone: the app's stdlib logger (core.views), Django's (django.request),
    # and structlog's (the database instrumentation, the access log).
    monkeypatch.setattr("core.views.cache", BrokenCache())
    settings.SLOW_QUERY_MS = 0
    settings.SLOW_REQUEST_MS = 0

    response = Client(raise_request_exception=False).get("/readyz", HTTP_X_REQUEST_ID="every-1")

    assert response.status_code == 503
    lines = json_logs()
    assert {(line["logger"], line["event"]) for line in lines} >= {
        ("core.views", "readiness: cache unavailable"),
        ("django.request", "Service Unavailable: /readyz"),
        ("core.db_instrumentation", "slow_query"),
        ("core.request_id", "request_finished"),
        ("core.request_id", "slow_request"),
    }
    assert [line["request_id"] for line in lines] == ["every-1"] * len(lines)


def test_lines_outside_a_request_have_no_request_id(json_logs: LogLines) -> None:
    Client().get("/healthz", HTTP_X_REQUEST_ID="over-1")

    logging.getLogger("books.importing").warning("after the request")

    assert "request_id" not in json_logs()[-1]


def test_two_requests_lines_carry_their_own_ids(json_logs: LogLines) -> None:
    client = Client()
    client.get("/healthz", HTTP_X_REQUEST_ID="first")
    client.get("/healthz", HTTP_X_REQUEST_ID="second")

    assert [line["request_id"] for line in json_logs()] == ["first", "second"]


# --- the settings choose the format ---------------------------------------------------

PROBE = """
import django, logging, sys
django.setup()
logging.getLogger(sys.argv[1]).warning("hello %s", "world")
"""


def log_from_settings(tmp_path: Path, logger: str = "probe", **env: str) -> str:
    """What a process configured by bookstore.settings alone writes for one warning.

    The settings package is copied, so that a developer's .env beside the real one cannot
    fill in what the test leaves out (as in bookstore/tests/test_settings.py).
    """
    base_dir = copy_settings_package(tmp_path)
    result = run_with_settings(base_dir, PROBE, logger, SECRET_KEY=KEY, **env)
    assert result.returncode == 0, result.stderr
    return result.stderr.strip()


def test_production_logs_json_by_default(tmp_path: Path) -> None:
    line = json.loads(log_from_settings(tmp_path, DEBUG="0"))

    assert line["event"] == "hello world"
    assert line["logger"] == "probe"


def test_development_logs_readable_text_by_default(tmp_path: Path) -> None:
    output = log_from_settings(tmp_path, DEBUG="1")

    assert "hello world" in output
    with pytest.raises(json.JSONDecodeError):
        json.loads(output)


@pytest.mark.parametrize(("debug", "log_format"), [("1", "json"), ("0", "console")])
def test_log_format_overrides_the_default(tmp_path: Path, debug: str, log_format: str) -> None:
    output = log_from_settings(tmp_path, DEBUG=debug, LOG_FORMAT=log_format)

    assert "hello world" in output
    if log_format == "json":
        assert json.loads(output)["event"] == "hello world"
    else:
        with pytest.raises(json.JSONDecodeError):
            json.loads(output)


@pytest.mark.parametrize("debug", ["0", "1"])
def test_django_lines_are_written_once_in_the_chosen_format(tmp_path: Path, debug: str) -> None:
    output = log_from_settings(tmp_path, logger="django.request", DEBUG=debug, LOG_FORMAT="json")

    (line,) = output.splitlines()
    assert json.loads(line)["logger"] == "django.request"
