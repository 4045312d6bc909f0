"""Adding, editing and deleting books in a real browser, as a signed-in person: the API's
field errors beside their fields, and failed saves (429, network) that lose nothing typed."""

import json
import re

import pytest
from playwright.sync_api import APIRequestContext, Locator, Page, Route, expect

from web.tests.browser import book_cards, create_book, fetch_book, screenshot, sign_in, unique_isbn
from web.tests.live_app import LiveApp

pytestmark = pytest.mark.e2e


def book_form(page: Page) -> Locator:
    return page.locator("#book-form")


def book_id_in(url: str) -> int:
    found = re.search(r"/app/books/(\d+)/$", url)
    assert found, url
    return int(found.group(1))


def test_adding_a_book_shows_the_apis_field_errors_then_saves(
    page: Page, live_app: LiveApp, api: APIRequestContext
) -> None:
    sign_in(page, live_app)
    page.get_by_role("link", name="Add a book").click()
    expect(page.get_by_role("heading", name="Add a book", level=1)).to_be_focused()
    form = book_form(page)
    title = form.get_by_label("Title")
    form.get_by_label("Author").fill("Ursula K. Le Guin")
    form.get_by_label("Publication date").fill("1969-03-01")
    form.get_by_label("ISBN").fill("12345")

    form.get_by_role("button", name="Save").click()

    expect(page.locator("#book-title-error")).to_have_text("This field may not be blank.")
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(title).to_be_focused()
    expect(page.locator("#book-isbn-error")).to_be_visible()
    expect(form.get_by_label("ISBN")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Author")).not_to_have_attribute("aria-invalid", "true")
    summary = page.locator("#book-form-errors")
    expect(summary).to_contain_text("Title: This field may not be blank.")
    expect(summary.get_by_role("link")).to_have_count(2)
    expect(form.get_by_label("Author")).to_have_value("Ursula K. Le Guin")  # nothing lost
    screenshot(page, "form-errors", full_page=True)

    new_title = f"The Left Hand of Darkness ({unique_isbn()})"
    isbn = unique_isbn()
    title.fill(new_title)
    form.get_by_label("ISBN").fill(f"{isbn[:3]}-{isbn[3:]}")  # any spelling is accepted
    form.get_by_label("Summary (optional)").fill("Winter, and a world without fixed sex.")
    form.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(new_title)
    expect(page.locator("#flash")).to_have_text(f"Added “{new_title}” to the catalogue.")
    stored = fetch_book(api, book_id_in(page.url)).json()
    assert stored["isbn"] == isbn
    expect(page.locator("#detail-isbn")).to_have_text(stored["isbn_display"])
    assert stored["title"] == new_title
    assert stored["author"] == "Ursula K. Le Guin"
    assert stored["publication_date"] == "1969-03-01"
    assert stored["isbn"] == isbn

    page.get_by_role("link", name="Back to the catalogue").click()
    newest = book_cards(page).first.locator(".book-card__link")
    expect(newest).to_have_text(new_title)


def test_editing_a_book_saves_the_changes(
    page: Page, live_app: LiveApp, api: APIRequestContext
) -> None:
    book = create_book(api, title="Before the edit")
    version_before = fetch_book(api, book["id"]).headers["etag"]
    sign_in(page, live_app)
    page.goto(f"/app/books/{book['id']}/")

    page.get_by_role("link", name="Edit").click()
    form = book_form(page)
    expect(form.get_by_label("Title")).to_have_value("Before the edit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit “Before the edit”")
    form.get_by_label("Title").fill("After the edit")
    form.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(rf"/app/books/{book['id']}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("After the edit")
    expect(page.locator("#flash")).to_have_text("Saved your changes.")
    stored = fetch_book(api, book["id"])
    assert stored.json()["title"] == "After the edit"
    assert stored.json()["summary"] == book["summary"]
    assert stored.headers["etag"] != version_before


def test_deleting_a_book_asks_first_then_removes_it(
    page: Page, live_app: LiveApp, api: APIRequestContext
) -> None:
    book = create_book(api, title="A book to delete")
    sign_in(page, live_app)
    page.goto(f"/app/books/{book['id']}/")

    page.get_by_role("button", name="Delete", exact=True).click()
    dialog = page.get_by_role("dialog", name="Delete this book?")
    expect(dialog).to_contain_text("“A book to delete” will be removed from the catalogue.")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice
    screenshot(page, "delete-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert fetch_book(api, book["id"]).status == 200

    page.get_by_role("button", name="Delete", exact=True).click()
    dialog.get_by_role("button", name="Delete", exact=True).click()

    expect(page).to_have_url(re.compile(r"/app/$"))
    expect(page.locator("#flash")).to_have_text("Deleted “A book to delete”.")
    expect(book_cards(page)).to_have_count(20)
    expect(page.get_by_role("link", name="A book to delete")).to_have_count(0)
    assert fetch_book(api, book["id"]).status == 404


def test_a_rate_limited_or_failed_save_keeps_what_was_typed(
    page: Page, live_app: LiveApp, api: APIRequestContext
) -> None:
    sign_in(page, live_app)
    page.get_by_role("link", name="Add a book").click()
    form = book_form(page)
    typed = {
        "Title": f"Patience ({unique_isbn()})",
        "Author": "Someone Patient",
        "Publication date": "2010-10-10",
        "ISBN": unique_isbn(),
        "Summary (optional)": "Typed once, never again.",
    }
    for label, value in typed.items():
        form.get_by_label(label).fill(value)
    notice = page.locator("#form-notice")

    def throttled(route: Route) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        route.fulfill(
            status=429,
            headers={"Retry-After": "30"},
            content_type="application/json",
            body=json.dumps({"detail": "Request was throttled. Expected available in 30 seconds."}),
        )

    page.route("**/books/", throttled)
    form.get_by_role("button", name="Save").click()
    expect(notice).to_contain_text("Too many requests just now. Please wait 30 seconds")
    expect(notice).to_be_focused()
    screenshot(page, "rate-limited")
    for label, value in typed.items():
        expect(form.get_by_label(label)).to_have_value(value)
    page.unroute("**/books/")

    def unreachable(route: Route) -> None:
        if route.request.method == "POST":
            route.abort("internetdisconnected")
        else:
            route.fallback()

    page.route("**/books/", unreachable)
    form.get_by_role("button", name="Save").click()
    expect(notice).to_contain_text("Could not reach the bookstore.")
    expect(form.get_by_role("button", name="Save")).to_be_enabled()
    for label, value in typed.items():
        expect(form.get_by_label(label)).to_have_value(value)
    page.unroute("**/books/")

    # Even a reload (or a closed tab's restored session) gives the text back as a draft.
    page.reload()
    expect(page.get_by_text("We restored changes you had not saved yet.")).to_be_visible()
    for label, value in typed.items():
        expect(form.get_by_label(label)).to_have_value(value)

    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(typed["Title"])
    assert fetch_book(api, book_id_in(page.url)).json()["summary"] == typed["Summary (optional)"]
