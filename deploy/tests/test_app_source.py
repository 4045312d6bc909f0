"""The reader of the app's source that the deployment tests compare their files with."""

from deploy.tests.app_source import environment_names_read, names_read_by_app, server_setting


def test_every_way_our_code_reads_the_environment_is_found() -> None:
    source = """
import os, environ
env = environ.Env()
A = env.str("BY_ENV_STR", default="")
B = env.db("BY_ENV_DB")
C = env("BY_ENV_CALL")
D = environ.Env().bool("BY_ENV_INSTANCE", default=False)
E = os.environ.get("BY_OS_ENVIRON_GET", "1")
F = os.environ["BY_OS_ENVIRON_ITEM"]
G = os.getenv("BY_OS_GETENV")
H = {"NOT_READ": "a dict key"}.get("NOT_READ_EITHER")


def _int(name, default):
    return int(os.environ.get(name) or default)


def _label(text, default):
    return text or default


I = _int("BY_HELPER", 4)
J = _label("NOT_AN_ENVIRONMENT_HELPER", "")
"""
    assert environment_names_read(source) == {
        "BY_ENV_STR",
        "BY_ENV_DB",
        "BY_ENV_CALL",
        "BY_ENV_INSTANCE",
        "BY_OS_ENVIRON_GET",
        "BY_OS_ENVIRON_ITEM",
        "BY_OS_GETENV",
        "BY_HELPER",
    }


def test_names_come_from_the_settings_and_the_server() -> None:
    names = names_read_by_app()
    # settings.py (env.str, env.db, env.bool) and deploy/server.py (os.environ.get, _int).
    assert {"SECRET_KEY", "DATABASE_URL", "DEBUG", "HOST", "PORT"} <= names
    assert {"WEB_CONCURRENCY", "SERVER_THREADS", "SERVER_GRACEFUL_TIMEOUT"} <= names
    assert "NOT_A_SETTING" not in names


def test_server_settings_are_read_as_written() -> None:
    assert server_setting("GRACEFUL_TIMEOUT_SECONDS") == 30
    assert server_setting("HEADER_TIMEOUT_MS") == 5_000
