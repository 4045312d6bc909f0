"""Round trip through a running bookstore container (scripts/docker-test.sh).

Waits (bounded) for /readyz to answer 200, then creates a book with the token in
BOOKSTORE_TOKEN, reads it back (authenticated and anonymously, the latter through the
Redis read cache), deletes it and checks that it is gone. One line per step; exit status 1
on the first unexpected answer. Standard library only: it runs on the host's python3,
without the project's virtualenv.

    BOOKSTORE_TOKEN=... python3 scripts/docker_round_trip.py http://127.0.0.1:PORT
"""

import argparse
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from typing import Any


class StepFailed(Exception):
    pass


def request(
    method: str, url: str, token: str | None = None, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    """Send one request; return the status and the decoded JSON body (None when empty)."""
    headers = {"Accept": "application/json"}
    data = None
    if token:
        headers["Authorization"] = f"Token {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    # The base URL is checked to be http(s) in main().
    req = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")[:200]


def expect(step: str, status: int, wanted: int, body: Any, started: float) -> None:
    ms = (time.monotonic() - started) * 1000
    verdict = "ok" if status == wanted else f"FAILED (wanted {wanted}): {body!r}"
    print(f"  {step:<34} -> {status} in {ms:6.1f} ms  {verdict}", flush=True)
    if status != wanted:
        raise StepFailed(step)


def wait_ready(base: str, timeout: float) -> None:
    started = time.monotonic()
    last: object = None
    while time.monotonic() - started < timeout:
        try:
            status, last = request("GET", f"{base}/readyz")
            if status == 200:
                waited = time.monotonic() - started
                print(f"  {'GET /readyz':<34} -> 200 after {waited:.1f} s", flush=True)
                return
        except OSError as error:  # not listening yet
            last = error
        time.sleep(0.5)
    raise StepFailed(f"/readyz not 200 within {timeout:.0f} s (last: {last!r})")


def random_isbn13() -> str:
    digits = [9, 7, 8] + [secrets.randbelow(10) for _ in range(9)]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def round_trip(base: str, token: str) -> None:
    book = {
        "title": "Docker Round Trip",
        "author": "make docker-test",
        "publication_date": "2024-05-01",
        "isbn": random_isbn13(),
        "summary": "Created, read and deleted through the container.",
    }
    started = time.monotonic()
    status, created = request("POST", f"{base}/books/", token, book)
    expect("POST /books/", status, 201, created, started)
    url = f"{base}/books/{created['id']}/"

    started = time.monotonic()
    status, read = request("GET", url, token)
    expect(f"GET /books/{created['id']}/", status, 200, read, started)
    if read["title"] != book["title"] or read["isbn"] != book["isbn"]:
        raise StepFailed(f"read back {read!r}, not what was created")

    started = time.monotonic()
    status, read = request("GET", url)
    expect(f"GET /books/{created['id']}/ (anonymous)", status, 200, read, started)

    started = time.monotonic()
    status, body = request("DELETE", url, token)
    expect(f"DELETE /books/{created['id']}/", status, 204, body, started)

    started = time.monotonic()
    status, body = request("GET", url)
    expect(f"GET /books/{created['id']}/ (deleted)", status, 404, body, started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:23456")
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    args = parser.parse_args()
    token = os.environ.get("BOOKSTORE_TOKEN", "")
    if not token:
        parser.error("BOOKSTORE_TOKEN is not set")
    base = args.base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        parser.error("the base URL must be http:// or https://")
    try:
        wait_ready(base, args.ready_timeout)
        round_trip(base, token)
    except (StepFailed, OSError, KeyError, TypeError) as error:
        print(f"round trip FAILED: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
