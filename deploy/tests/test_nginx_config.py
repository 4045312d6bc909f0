"""The shipped nginx config, as write_nginx_config writes it for a site: nginx accepts it, and
its settings agree with the app's and the server's (deploy/server.py)."""

import re
import subprocess
from pathlib import Path

import pytest

from deploy.nginx_config import (
    LISTEN_INCLUDE,
    SHARED_FILES,
    SHIPPED_DIRECTORY,
    SITE_DIRECTORY,
    UPSTREAM_SERVER_PARAMETERS,
    UPSTREAMS_INCLUDE,
    find_nginx,
    nginx_command,
    write_nginx_config,
)
from deploy.tests.app_source import server_setting, settings_default

MAIN_CONFIG = SHIPPED_DIRECTORY / "nginx.conf"
PROXY_CONFIG = SHIPPED_DIRECTORY / "proxy.conf"


def directive(path: Path, name: str) -> list[str]:
    """The arguments of each ``name`` directive in ``path``, comments left out."""
    text = re.sub(r"#.*", "", path.read_text())
    return [match.strip() for match in re.findall(rf"^\s*{name}\s+([^;]*);", text, re.M)]


def test_nginx_accepts_the_config_for_loopback_upstreams(tmp_path: Path) -> None:
    config = write_nginx_config(
        tmp_path, listen="127.0.0.1:20080", upstreams=["127.0.0.1:20001", "127.0.0.1:20002"]
    )
    result = subprocess.run(  # noqa: S603 - nginx and a config of ours
        [*nginx_command(config), "-t"], capture_output=True, text=True, timeout=10, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_shared_files_are_copied_unchanged_and_the_site_is_written(tmp_path: Path) -> None:
    config = write_nginx_config(
        tmp_path, listen="127.0.0.1:20080", upstreams=["127.0.0.1:20001", "127.0.0.1:20002"]
    )
    assert config == tmp_path / "nginx.conf"
    for name in SHARED_FILES:
        assert (tmp_path / name).read_bytes() == (SHIPPED_DIRECTORY / name).read_bytes()
    site = tmp_path / SITE_DIRECTORY
    assert directive(site / LISTEN_INCLUDE, "listen") == ["127.0.0.1:20080"]
    assert directive(site / UPSTREAMS_INCLUDE, "server") == [
        f"127.0.0.1:20001 {UPSTREAM_SERVER_PARAMETERS}",
        f"127.0.0.1:20002 {UPSTREAM_SERVER_PARAMETERS}",
    ]


def test_the_main_config_takes_every_site_include_write_nginx_config_writes(
    tmp_path: Path,
) -> None:
    write_nginx_config(tmp_path, listen="127.0.0.1:20080", upstreams=["127.0.0.1:20001"])
    written = {path.name for path in (tmp_path / SITE_DIRECTORY).iterdir()}
    shipped = {path.name for path in (SHIPPED_DIRECTORY / SITE_DIRECTORY).iterdir()}
    included = {Path(name).name for name in directive(MAIN_CONFIG, "include")}
    assert written == shipped
    assert written <= included


@pytest.mark.parametrize(
    ("listen", "upstreams"),
    [
        ("127.0.0.1:20080; include /etc/passwd", ["127.0.0.1:20001"]),
        ("127.0.0.1:20080", ["127.0.0.1:20001\nserver 10.0.0.1:80"]),
        ("127.0.0.1:20080", []),
    ],
)
def test_addresses_that_are_not_one_are_refused(
    tmp_path: Path, listen: str, upstreams: list[str]
) -> None:
    with pytest.raises(ValueError, match=r"upstream|address"):
        write_nginx_config(tmp_path, listen=listen, upstreams=upstreams)


def test_paths_are_relative_to_the_prefix_and_errors_go_to_stderr() -> None:
    assert directive(MAIN_CONFIG, "error_log") == ["stderr warn"]
    temporary_paths = [f"{kind}_temp_path" for kind in ("client_body", "proxy", "fastcgi")]
    temporary_paths += ["uwsgi_temp_path", "scgi_temp_path"]
    for name in ["pid", *temporary_paths]:
        (value,) = directive(MAIN_CONFIG, name)
        assert not value.startswith("/"), name


def test_bodies_are_limited_as_the_app_limits_them() -> None:
    limit = settings_default("REQUEST_BODY_MAX_BYTES")
    assert directive(MAIN_CONFIG, "client_max_body_size") == [str(limit)]
    assert f"the limit is {limit} bytes" in MAIN_CONFIG.read_text()


def test_idle_upstream_connections_close_before_the_server_closes_them() -> None:
    # granian closes a keep-alive connection idle for its header read timeout (deploy/server.py).
    (timeout,) = directive(MAIN_CONFIG, "keepalive_timeout")
    server_idle_ms = server_setting("HEADER_TIMEOUT_MS")
    assert isinstance(server_idle_ms, int)
    assert int(timeout.removesuffix("s")) * 1000 < server_idle_ms


def test_only_idempotent_requests_are_retried_and_only_on_failures_to_answer() -> None:
    (conditions,) = directive(PROXY_CONFIG, "proxy_next_upstream")
    assert set(conditions.split()) == {"error", "timeout"}
    assert directive(MAIN_CONFIG, "proxy_next_upstream") == []
    (tries,) = directive(PROXY_CONFIG, "proxy_next_upstream_tries")
    (timeout,) = directive(PROXY_CONFIG, "proxy_next_upstream_timeout")
    assert 0 < int(tries) <= 3
    assert timeout not in ("0", "0s")


def test_upstream_connections_are_kept_alive() -> None:
    assert directive(PROXY_CONFIG, "proxy_http_version") == ["1.1"]
    assert directive(PROXY_CONFIG, "proxy_set_header Connection") == ['""']
    (connections,) = directive(MAIN_CONFIG, "keepalive")
    assert int(connections) > 0


def test_nginx_is_found_where_debian_installs_it() -> None:
    assert Path(find_nginx()).name == "nginx"
