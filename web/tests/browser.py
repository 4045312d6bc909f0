"""Helpers for the browser tests: Debian's Chromium, what must never happen on a page, and
the few API calls the tests make to set up and check state (over HTTP, never the ORM)."""

import os
import random
from pathlib import Path
from typing import Any

from playwright.sync_api import (
    APIRequestContext,
    APIResponse,
    ConsoleMessage,
    Locator,
    Page,
    Request,
    Response,
    expect,
)

from web.tests.live_app import REPO_ROOT, LiveApp

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Every Playwright wait (actions, navigations, expect) gives up after this long.
TIMEOUT_MS = 10_000

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

#: Runs before any page script (DevTools-injected scripts are exempt from the CSP itself).
CSP_VIOLATION_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline code"}` +
    ` at ${event.sourceFile || "?"}:${event.lineNumber}`
  );
});
"""


def screenshot_dir() -> Path:
    directory = Path(os.environ.get("E2E_OUTPUT_DIR") or REPO_ROOT / "test-output" / "e2e")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    path = screenshot_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path


class PageWatch:
    """Records what must never happen on our pages: a Content-Security-Policy violation, an
    uncaught script error, or a static asset that fails to load."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught error: {error}"))
        page.on("response", self._on_response)
        page.on("requestfailed", self._on_request_failed)

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.problems.append(f"console: {message.text}")

    def _on_response(self, response: Response) -> None:
        if "/static/" in response.url and response.status >= 400:
            self.problems.append(f"asset {response.url} answered {response.status}")

    def _on_request_failed(self, request: Request) -> None:
        # ERR_ABORTED: the page navigated away while the asset loaded, which is no fault of it.
        if "/static/" in request.url and request.failure != "net::ERR_ABORTED":
            self.problems.append(f"asset {request.url} failed: {request.failure}")

    def all_problems(self) -> list[str]:
        problems = list(self.problems)
        if not self.page.is_closed():
            violations = self.page.evaluate("window.__cspViolations || []")
            problems.extend(f"CSP violation: {violation}" for violation in violations)
        return problems


# --- The UI steps several tests share --------------------------------------------------------


def sign_in(page: Page, app: LiveApp) -> None:
    page.goto("/app/sign-in/")
    page.get_by_label("Username").fill(app.username)
    page.get_by_label("Password").fill(app.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signed-in-as")).to_have_text(f"Signed in as {app.username}")


def book_cards(page: Page) -> Locator:
    """The catalogue's list items (the list is labelled by the "Catalogue" heading)."""
    return page.get_by_role("list", name="Catalogue").get_by_role("listitem")


# --- The API, for setting up and checking --------------------------------------------------


def unique_isbn() -> str:
    """A valid ISBN-13 in the 979-8 range, which the seeded demo books (978) never use."""
    body = f"9798{random.randrange(10**8):08d}"
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(body))
    return body + str((10 - total % 10) % 10)


def create_book(api: APIRequestContext, **fields: str) -> dict[str, Any]:
    payload = {
        "title": "A book made by a test",
        "author": "Test Author",
        "publication_date": "2001-02-03",
        "isbn": unique_isbn(),
        "summary": "Made over the API to be edited in the browser.",
        **fields,
    }
    response = api.post("/books/", data=payload)
    assert response.status == 201, response.text()
    book: dict[str, Any] = response.json()
    return book


def fetch_book(api: APIRequestContext, book_id: int) -> APIResponse:
    return api.get(f"/books/{book_id}/")
