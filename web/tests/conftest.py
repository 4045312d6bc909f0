"""Fixtures for the browser (e2e) tests: the app served by granian (deploy/server.py), Chromium,
pages that fail the test on any CSP violation or script error, and an API client for setup and
checks."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    APIRequestContext,
    Browser,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from web.tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CSP_VIOLATION_RECORDER,
    DESKTOP,
    TIMEOUT_MS,
    PageWatch,
)
from web.tests.live_app import LiveApp, run_live_app

expect.set_options(timeout=TIMEOUT_MS)

OpenPage = Callable[..., Page]


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with run_live_app(tmp_path_factory.mktemp("e2e")) as app:
        yield app


# Module scope: Playwright's sync API runs an event loop in this thread while it is open,
# which Django's ORM refuses to share; other test modules must not run inside it.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"The browser tests need Debian's Chromium at {CHROMIUM}, which is missing. "
            "Install it with `apt-get install -y chromium` (do not run `playwright install`).",
            pytrace=False,
        )
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=TIMEOUT_MS
    )
    yield browser
    browser.close()


@pytest.fixture
def open_page(chromium: Browser, live_app: LiveApp) -> Iterator[OpenPage]:
    """Opens a page in a fresh browser context (its own storage: another person, in effect).

    At the end of the test, any CSP violation, uncaught script error or failed asset load on
    any of the pages fails the test.
    """
    watches: list[PageWatch] = []

    def open_new_page(*, viewport: dict[str, int] = DESKTOP, phone: bool = False) -> Page:
        context = chromium.new_context(
            base_url=live_app.url,
            viewport=viewport,  # type: ignore[arg-type]
            is_mobile=phone,
            has_touch=phone,
            device_scale_factor=2 if phone else 1,
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        context.add_init_script(script=CSP_VIOLATION_RECORDER)
        page = context.new_page()
        watches.append(PageWatch(page))
        return page

    yield open_new_page

    problems = [problem for watch in watches for problem in watch.all_problems()]
    for watch in watches:
        watch.page.context.close()
    assert not problems, "Problems on the page:\n" + "\n".join(problems)


@pytest.fixture
def page(open_page: OpenPage) -> Page:
    return open_page()


@pytest.fixture(scope="module")
def api(playwright: Playwright, live_app: LiveApp) -> Iterator[APIRequestContext]:
    """The API as the test's user, for arranging state and checking what the UI did."""
    context = playwright.request.new_context(
        base_url=live_app.url,
        extra_http_headers={"Authorization": f"Token {live_app.token}"},
        timeout=TIMEOUT_MS,
    )
    yield context
    context.dispose()
