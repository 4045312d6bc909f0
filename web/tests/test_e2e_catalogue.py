"""Browsing the catalogue in a real browser: pages loaded by scrolling, search as you type,
filters and sorting kept in the address, one book, the keyboard, a phone-sized screen, and
the production asset pipeline the page is served by."""

import re
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Page, Request, Route, expect

from web.tests.browser import PHONE, book_cards, screenshot
from web.tests.conftest import OpenPage
from web.tests.live_app import SEEDED_BOOKS

pytestmark = pytest.mark.e2e

HASHED_ASSET = re.compile(r"/static/web/[\w/-]+\.[0-9a-f]{12}\.(js|css|svg)")


def titles_from_api(api: APIRequestContext, **params: str) -> list[str]:
    response = api.get("/books/", params={"page_size": "100", **params})
    assert response.status == 200, response.text()
    return [book["title"] for book in response.json()["results"]]


def first_seeded_book(api: APIRequestContext) -> dict[str, Any]:
    response = api.get("/books/", params={"ordering": "created_at", "page_size": "1"})
    assert response.status == 200, response.text()
    book: dict[str, Any] = response.json()["results"][0]
    return book


def test_the_list_shows_a_page_and_scrolling_loads_the_next_ones(page: Page) -> None:
    page.goto("/app/")

    cards = book_cards(page)
    expect(cards).to_have_count(20)
    # The total is the API's count (test_e2e_total.py).
    expect(page.locator("#catalogue-status")).to_have_text(
        re.compile(r"^[0-9,]+ books; showing 20, more below\.$")
    )
    screenshot(page, "list")

    with page.expect_request(
        lambda request: "/books/?" in request.url and "cursor=" in request.url
    ):
        cards.last.scroll_into_view_if_needed()
        page.mouse.wheel(0, 2000)
    expect(cards).to_have_count(40)

    page.mouse.wheel(0, 20000)
    expect(page.get_by_text("That is every book.")).to_be_visible()
    links = cards.locator(".book-card__link").evaluate_all("links => links.map(l => l.pathname)")
    assert len(links) >= SEEDED_BOOKS
    assert len(set(links)) == len(links), "a book was listed twice"


def test_search_runs_as_you_type_and_lives_in_the_address(
    page: Page, api: APIRequestContext
) -> None:
    words = first_seeded_book(api)["title"]
    expected = titles_from_api(api, search=words)
    assert 0 < len(expected) < 20
    page.goto("/app/")
    expect(book_cards(page)).to_have_count(20)
    list_requests: list[str] = []

    def count_list_request(request: Request) -> None:
        if "/books/?" in request.url:
            list_requests.append(request.url)

    page.on("request", count_list_request)

    page.get_by_label("Search", exact=True).press_sequentially(words, delay=30)

    expect(page).to_have_url(re.compile(r"/app/\?search=\w"))
    titles = page.locator(".book-card__link")
    expect(titles).to_have_text(expected)
    expect(page.locator("#catalogue-status")).to_have_text(
        f"{len(expected)} book{'s' if len(expected) > 1 else ''} found."
    )
    assert 1 <= len(list_requests) <= 2, f"{len(words)} keys sent {len(list_requests)} requests"
    screenshot(page, "search-results")

    page.reload()  # what a bookmark or a shared link does
    expect(page.get_by_label("Search", exact=True)).to_have_value(words)
    expect(titles).to_have_text(expected)


def test_loading_and_empty_states_are_shown_and_the_search_can_be_cleared(page: Page) -> None:
    held: list[Route] = []

    def hold(route: Route) -> None:  # the list request waits until the test lets it go
        held.append(route)

    page.route(re.compile(r".*/books/\?.*search=zzqxv.*"), hold)
    page.goto("/app/?search=zzqxv")

    expect(page.locator("#catalogue-loading")).to_have_text("Loading books…")
    expect(page.get_by_role("list", name="Catalogue")).to_have_attribute("aria-busy", "true")
    screenshot(page, "loading")
    assert len(held) == 1
    held[0].continue_()

    empty = page.locator("#catalogue-empty")
    expect(empty).to_contain_text("No book has the word “zzqxv”.")
    expect(page.locator("#catalogue-loading")).to_be_hidden()
    expect(book_cards(page)).to_have_count(0)
    screenshot(page, "empty")

    empty.get_by_role("button", name="Clear search and filters").click()
    expect(book_cards(page)).to_have_count(20)
    expect(page).to_have_url(re.compile(r"/app/$"))
    expect(page.get_by_label("Search", exact=True)).to_be_focused()


def test_sorting_and_filters_apply_and_a_shared_link_shows_the_same(
    open_page: OpenPage, api: APIRequestContext
) -> None:
    page = open_page()
    target = first_seeded_book(api)
    page.goto("/app/")
    expect(book_cards(page)).to_have_count(20)
    titles = page.locator(".book-card__link")
    filters = page.get_by_role("search", name="Search the catalogue")

    filters.get_by_label("Sort by").select_option("title")
    expect(page).to_have_url(re.compile(r"ordering=title"))
    expect(titles).to_have_text(titles_from_api(api, ordering="title")[:20])

    filters.get_by_text("Filter by author and date").click()
    filters.get_by_label("Author", exact=True).fill(target["author"].upper())  # any capitals
    filters.get_by_label("Published on or after").fill(target["publication_date"])
    filters.get_by_label("Published on or before").fill(target["publication_date"])

    query = {
        "author_name": target["author"].upper(),
        "published_after": target["publication_date"],
        "published_before": target["publication_date"],
        "ordering": "title",
    }
    expected = titles_from_api(api, **query)
    assert target["title"] in expected
    expect(page).to_have_url(re.compile(r"published_before=\d{4}-\d\d-\d\d"))
    expect(titles).to_have_text(expected)
    expect(page.locator(".book-card__author")).to_have_text([target["author"]] * len(expected))

    other_person = open_page()
    other_person.goto(page.url)
    expect(other_person.locator(".book-card__link")).to_have_text(expected)
    shared_filters = other_person.get_by_role("search", name="Search the catalogue")
    expect(shared_filters.get_by_label("Author", exact=True)).to_have_value(query["author_name"])
    expect(shared_filters.get_by_label("Sort by")).to_have_value("title")


def test_a_book_opens_and_back_returns_to_the_same_place(
    page: Page, api: APIRequestContext
) -> None:
    page.goto("/app/")
    link = book_cards(page).nth(3).locator(".book-card__link")
    expect(link).to_be_visible()
    book_path = link.get_attribute("href") or ""
    book_id = int(re.fullmatch(r"/app/books/(\d+)/", book_path).group(1))  # type: ignore[union-attr]
    book = api.get(f"/books/{book_id}/").json()

    link.click()

    expect(page).to_have_url(re.compile(rf"/app/books/{book_id}/$"))
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(book["title"])
    expect(heading).to_be_focused()
    expect(page.locator("#detail-author")).to_have_text(book["author"])
    expect(page.locator("#detail-isbn")).to_have_text(book["isbn_display"])  # hyphenated
    # As much of the date as is known: 1965, 1968-07 or 1968-07-20 (test_e2e_book_facts.py).
    known = {"year": 4, "month": 7}.get(book["publication_date_precision"])
    expect(page.locator("#detail-published")).to_have_attribute(
        "datetime", book["publication_date"][:known]
    )
    expect(page.get_by_text("to edit or delete this book.")).to_be_visible()  # not signed in
    expect(page).to_have_title(f"{book['title']} \N{EN DASH} Bookstore")
    screenshot(page, "book-detail")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/app/$"))
    expect(book_cards(page)).to_have_count(20)
    expect(link).to_be_focused()  # the reader is back on the book they opened


def test_the_page_works_from_the_keyboard(page: Page) -> None:
    page.goto("/app/")
    expect(book_cards(page)).to_have_count(20)

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()

    page.get_by_label("Search", exact=True).focus()
    page.keyboard.type("zzqxv")
    page.keyboard.press("Enter")
    expect(page.locator("#catalogue-empty")).to_contain_text("No book has the word “zzqxv”.")
    expect(page.get_by_label("Search", exact=True)).to_be_focused()  # still where the reader is
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.press("Enter")
    expect(book_cards(page)).to_have_count(20)

    first_link = book_cards(page).first.locator(".book-card__link")
    first_link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    expect(page).to_have_url(re.compile(r"/app/books/\d+/$"))


def test_the_list_fits_a_phone_screen(open_page: OpenPage) -> None:
    page = open_page(viewport=PHONE, phone=True)
    page.goto("/app/")
    cards = book_cards(page)
    expect(cards).to_have_count(20)

    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone"
    first, second = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
    assert first is not None
    assert second is not None
    assert first["x"] == second["x"], "the cards should stack in one column"
    assert first["width"] >= PHONE["width"] * 0.85
    search = page.get_by_label("Search", exact=True).bounding_box()
    assert search is not None
    assert search["x"] + search["width"] <= PHONE["width"]
    screenshot(page, "list-phone")

    cards.first.locator(".book-card__link").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Loading the book…")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the book's page is {overflow}px wider than a phone"
    screenshot(page, "book-detail-phone")


def test_assets_have_hashed_names_and_are_served_compressed_and_cached(
    api: APIRequestContext,
) -> None:
    shell = api.get("/app/")
    assert shell.status == 200
    assert "script-src 'self'" in shell.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', shell.text())
    assert {asset.rsplit(".", 1)[-1] for asset in assets} == {"js", "css", "svg"}
    for asset in assets:
        assert HASHED_ASSET.fullmatch(asset), f"{asset} has no content hash in its name"

    entry = next(asset for asset in assets if asset.endswith(".js"))
    response = api.get(entry, headers={"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers["content-encoding"] == "gzip"
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["content-type"].startswith("text/javascript")

    # The module's own imports were rewritten to hashed names too, and are served.
    imports = re.findall(r'from\s*"(\.[^"]+)"', response.text())
    assert len(imports) >= 4
    for path in imports:
        url = entry.rsplit("/", 1)[0] + "/" + path.removeprefix("./")
        assert HASHED_ASSET.fullmatch(url), f"{path} is not a hashed name"
        assert api.get(url).status == 200, url
