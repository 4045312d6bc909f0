"""The reader of the app's source that the deployment tests compare their files with."""

from deploy.tests.app_source import environment_names_read, gunicorn_setting, names_read_by_app


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
"""
    assert environment_names_read(source) == {
        "BY_ENV_STR",
        "BY_ENV_DB",
        "BY_ENV_CALL",
        "BY_ENV_INSTANCE",
        "BY_OS_ENVIRON_GET",
        "BY_OS_ENVIRON_ITEM",
        "BY_OS_GETENV",
    }


def test_names_come_from_the_settings_and_gunicorns_config() -> None:
    names = names_read_by_app()
    # settings.py (env.str, env.db, env.bool) and gunicorn.conf.py (os.environ.get).
    assert {"SECRET_KEY", "DATABASE_URL", "DEBUG", "WEB_CONCURRENCY", "PORT"} <= names
    assert "NOT_A_SETTING" not in names


def test_gunicorn_settings_are_read_as_written() -> None:
    assert gunicorn_setting("worker_class") == "gthread"
