"""The README's examples run as written, top to bottom, against a fresh `make run`.

Every ```sh block marked `<!-- readme-test: run -->` on the line before it is run with bash, in
order, in the project folder, against our production server started here as `make run` starts
it (migrate, the 387 real demo books, deploy/server.py) over a fresh SQLite database. Shell
variables a block sets (the token, the new book's id) carry over to the next block, as in the
one shell a reader types them into. Only the address and the interpreter are substituted:
`localhost:8000` becomes the test server's, `.venv/bin/python` the running interpreter.
"""

import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.app import PROJECT_DIRECTORY, AppServer, manage, server_environment
from harness.ports import free_port
from harness.processes import which

README = PROJECT_DIRECTORY / "README.md"
BASH = which("bash")
MARKER = "<!-- readme-test: run -->"
#: A variable assignment at the start of a line, e.g. `T=$(...)`: carried to the next blocks.
ASSIGNMENT = re.compile(r"^([A-Z_][A-Z0-9_]*)=", re.MULTILINE)


def marked_blocks(text: str) -> list[str]:
    """The bodies of the ```sh blocks that directly follow the marker line, in order."""
    blocks = []
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        fence = lines[number + 1] if number + 1 < len(lines) else ""
        if fence.strip() != "```sh":
            raise AssertionError(f"README.md:{number + 1}: {MARKER} must precede a ```sh line")
        end = lines.index("```", number + 2)
        blocks.append("\n".join(lines[number + 2 : end]))
    return blocks


def statuses(output: str) -> list[str]:
    """The lines of `output` that are an HTTP status alone (curl -w '%{http_code}\\n')."""
    return [line for line in output.splitlines() if re.fullmatch(r"\d{3}", line)]


def signed_in(output: str) -> None:
    token_line = output.splitlines()[0]
    assert re.fullmatch(r"[0-9a-f]{20,}", token_line), output  # create_api_user's token
    assert '"token":' in output, output  # POST /auth/token/
    assert '"expiry":' in output, output


def session(output: str) -> None:
    assert re.search(r"^HTTP/1\.1 201 Created", output, re.MULTILINE), output
    assert re.search(r"^location: http://127\.0\.0\.1:\d+/books/\d+/", output, re.I | re.M)
    assert '"isbn":"9780441172719"' in output, output
    assert '"author":"Frank Herbert"' in output, output  # the list, filtered
    assert '"summary":"Spice."' in output, output  # the PATCH's answer


def bulk_create(output: str) -> None:
    assert '"isbn":"9780306406157"' in output, output
    assert '"isbn":"9780131103627"' in output, output


def lost_updates(output: str) -> None:
    assert re.match(r'"\d+-2-[0-9a-f]+"\n', output), output  # the session's book after its PATCH
    # 304 not modified, 200 with the current tag, 412 with the stale one, deleted, gone.
    assert statuses(output) == ["304", "200", "412", "204", "404"], output


#: What each marked block must print, in the README's order.
EXPECTED: list[Callable[[str], None]] = [signed_in, session, bulk_create, lost_updates]


@pytest.fixture(scope="module")
def fresh_make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """What `make run` sets up, on a free port: migrate, seed_books --real, deploy.server."""
    directory = tmp_path_factory.mktemp("readme")
    settings = {
        "DJANGO_SETTINGS_MODULE": "bookstore.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
        # Empty rather than unset, so a developer's .env cannot bring Redis in: `make run`
        # without REDIS_URL has the in-process cache.
        "REDIS_URL": "",
        "PYTHONUNBUFFERED": "1",
    }
    environment = server_environment(settings)
    manage(environment, "create_database")
    manage(environment, "migrate", "--noinput")
    assert manage(environment, "seed_books", "--real").startswith("Added 387 books")
    server = AppServer(free_port(), directory / "server.log", settings, workers=1)
    try:
        server.start(60)
        yield server
    finally:
        server.stop(signal.SIGINT, 10)


def test_the_readme_examples_run_in_order_against_a_fresh_make_run(
    fresh_make_run: AppServer, tmp_path: Path
) -> None:
    blocks = marked_blocks(README.read_text())
    assert len(blocks) == len(EXPECTED), "a marked README block needs its expectation here"
    names = sorted(set(ASSIGNMENT.findall("\n".join(blocks))))
    state = tmp_path / "variables.sh"
    state.write_text("")
    for number, (block, expect) in enumerate(zip(blocks, EXPECTED, strict=True), start=1):
        script = block.replace("localhost:8000", f"127.0.0.1:{fresh_make_run.port}").replace(
            ".venv/bin/python", sys.executable
        )
        # Each block's variables are saved for the next, as one interactive shell keeps them.
        keep = f"\ndeclare -p {' '.join(names)} > {state} 2>/dev/null || true\n"
        result = subprocess.run(  # noqa: S603 - the README's own commands
            [BASH, "-o", "errexit", "-o", "pipefail", "-c", f"source {state}\n{script}{keep}"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=PROJECT_DIRECTORY,
            env=fresh_make_run.environment,
            check=False,
        )
        assert result.returncode == 0, f"block {number} failed:\n{result.stdout}{result.stderr}"
        expect(result.stdout)


def test_a_marker_must_precede_a_shell_block() -> None:
    assert marked_blocks(f"{MARKER}\n```sh\necho one\n```\n\n```sh\necho two\n```\n") == [
        "echo one"
    ]
    with pytest.raises(AssertionError, match="must precede"):
        marked_blocks(f"{MARKER}\nsome prose\n```sh\necho one\n```\n")
