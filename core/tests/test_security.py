"""Security defaults: Django's deployment check, response headers, CORS by allowlist."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ALLOWED_ORIGIN = "https://shop.example.com"


def _check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "bookstore.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy-check.sqlite3'}",
        # Production shares its limits through Redis (the check only reads the setting).
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_deploy_check_is_clean_with_production_settings(tmp_path: Path) -> None:
    result = _check_deploy(tmp_path, DEBUG="0")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_catches_debug_left_on(tmp_path: Path) -> None:
    """The check above can fail: DEBUG on in production is reported."""
    result = _check_deploy(tmp_path, DEBUG="1")

    assert result.returncode != 0
    assert "security.W018" in result.stdout + result.stderr


@pytest.mark.django_db
def test_https_responses_carry_hsts_and_the_other_security_headers(client: Client) -> None:
    response = client.get("/books/", secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_the_proxy_header_marks_a_request_secure(client: Client) -> None:
    """Behind the TLS-terminating proxy, X-Forwarded-Proto: https counts as HTTPS."""
    response = client.get("/books/", headers={"X-Forwarded-Proto": "https"})

    assert "Strict-Transport-Security" in response


@pytest.mark.parametrize("path", ["/app/", "/books/", "/api/docs/"])
@pytest.mark.django_db
def test_html_pages_get_a_strict_content_security_policy(client: Client, path: str) -> None:
    response = client.get(path, headers={"Accept": "text/html"})

    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=[ALLOWED_ORIGIN])
def test_cors_preflight_is_answered_for_an_allowed_origin_only(client: Client) -> None:
    preflight = {
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "if-match",
    }

    allowed = client.options("/books/1/", headers={"Origin": ALLOWED_ORIGIN, **preflight})
    other = client.options("/books/1/", headers={"Origin": "https://evil.example", **preflight})

    assert allowed["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "if-match" in allowed["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in other


@pytest.mark.django_db
def test_no_cross_origin_access_by_default(client: Client) -> None:
    response = client.get("/books/", headers={"Origin": ALLOWED_ORIGIN})

    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=[ALLOWED_ORIGIN])
def test_cross_origin_clients_can_read_the_etag(client: Client) -> None:
    response = client.get("/books/", headers={"Origin": ALLOWED_ORIGIN})

    exposed = response["Access-Control-Expose-Headers"].lower()
    assert "etag" in exposed
    assert "retry-after" in exposed


# --- forwarded headers, caching of credentials, our deploy checks (issue 13, finding 11) -----


@pytest.mark.django_db
@override_settings(SECURE_PROXY_SSL_HEADER=None)  # production's default without NUM_PROXIES
def test_x_forwarded_proto_is_ignored_without_a_declared_proxy(client: Client) -> None:
    """With no proxy in front (NUM_PROXIES=0, the default) any client could send the header.
    The default itself is proved in bookstore/tests/test_settings.py, in its own process."""
    response = client.get("/books/", headers={"X-Forwarded-Proto": "https"})

    assert "Strict-Transport-Security" not in response


@pytest.mark.django_db
def test_token_endpoint_answers_are_never_stored(client: Client) -> None:
    response = client.post(
        "/auth/token/", {"username": "x", "password": "y"}, content_type="application/json"
    )

    assert "no-store" in response["Cache-Control"]


def test_deploy_check_warns_when_proxy_headers_are_trusted_without_a_proxy(
    tmp_path: Path,
) -> None:
    result = _check_deploy(tmp_path, DEBUG="0", SECURE_PROXY_SSL_HEADER="true", NUM_PROXIES="0")

    assert result.returncode != 0
    assert "core.W001" in result.stdout + result.stderr


def test_deploy_check_warns_when_limits_are_counted_per_process(tmp_path: Path) -> None:
    result = _check_deploy(tmp_path, DEBUG="0", REDIS_URL="")

    assert result.returncode != 0
    assert "core.W003" in result.stdout + result.stderr


def test_deploy_check_is_clean_behind_one_declared_proxy(tmp_path: Path) -> None:
    result = _check_deploy(tmp_path, DEBUG="0", NUM_PROXIES="1", SECURE_PROXY_SSL_HEADER="true")

    assert result.returncode == 0, result.stdout + result.stderr
