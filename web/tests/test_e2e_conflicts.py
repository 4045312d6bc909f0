"""Two people editing the same book at once, in two browser sessions: the later save gets the
API's 412, changes nothing, and the page offers to reload without losing what was typed."""

import pytest
from playwright.sync_api import APIRequestContext, Page, expect

from web.tests.browser import create_book, fetch_book, screenshot, sign_in
from web.tests.conftest import OpenPage
from web.tests.live_app import LiveApp

pytestmark = pytest.mark.e2e

ORIGINAL_SUMMARY = "The summary both people started from."
SECOND_SUMMARY = "The second person's better summary."


def open_edit_form(page: Page, live_app: LiveApp, book_id: int, title: str) -> None:
    sign_in(page, live_app)
    page.goto(f"/app/books/{book_id}/edit/")
    expect(page.locator("#book-form").get_by_label("Title")).to_have_value(title)


def test_a_conflicting_edit_from_a_second_session_offers_to_reload(
    open_page: OpenPage, live_app: LiveApp, api: APIRequestContext
) -> None:
    book = create_book(api, title="A shared book", summary=ORIGINAL_SUMMARY)
    first, second = open_page(), open_page()
    open_edit_form(first, live_app, book["id"], "A shared book")
    open_edit_form(second, live_app, book["id"], "A shared book")
    first_form, second_form = first.locator("#book-form"), second.locator("#book-form")

    first_form.get_by_label("Title").fill("A shared book, renamed first")
    first_form.get_by_role("button", name="Save").click()
    expect(first.locator("#flash")).to_have_text("Saved your changes.")

    second_form.get_by_label("Summary (optional)").fill(SECOND_SUMMARY)
    second_form.get_by_role("button", name="Save").click()

    conflict = second.locator("#form-conflict")
    expect(conflict).to_contain_text("Someone else changed this book")
    expect(conflict).to_be_focused()
    expect(second_form.get_by_label("Summary (optional)")).to_have_value(SECOND_SUMMARY)
    expect(second_form.get_by_label("Title")).to_have_value("A shared book")
    screenshot(second, "conflict")
    stored = fetch_book(api, book["id"]).json()
    assert stored["title"] == "A shared book, renamed first"
    assert stored["summary"] == ORIGINAL_SUMMARY, "the stale save must change nothing"

    second.get_by_role("button", name="Reload the latest version").click()

    expect(conflict).to_be_hidden()
    expect(second_form.get_by_label("Title")).to_have_value("A shared book, renamed first")
    expect(second_form.get_by_label("Summary (optional)")).to_have_value(ORIGINAL_SUMMARY)
    unsaved = second.locator("#form-previous-edits")
    expect(unsaved).to_contain_text(SECOND_SUMMARY)  # still there to apply again
    expect(unsaved).not_to_contain_text("A shared book")  # only what differs is listed
    screenshot(second, "conflict-reloaded", full_page=True)

    second_form.get_by_label("Summary (optional)").fill(SECOND_SUMMARY)
    second_form.get_by_role("button", name="Save").click()
    expect(second.locator("#flash")).to_have_text("Saved your changes.")
    stored = fetch_book(api, book["id"]).json()
    assert stored["title"] == "A shared book, renamed first"
    assert stored["summary"] == SECOND_SUMMARY
