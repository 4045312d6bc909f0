"""The dates in the browser: a range the wrong way round gets a hint and a swap instead of an
empty list, and a date the API refuses is explained in the format the date control shows."""

import re

import pytest
from playwright.sync_api import APIRequestContext, Page, Request, expect

from web.tests.browser import book_cards, create_book, sign_in, unique_isbn
from web.tests.live_app import LiveApp

pytestmark = pytest.mark.e2e

#: Chromium's date control in the tests' locale (en-US) shows its parts as mm/dd/yyyy.
CONTROL_MESSAGE = "Enter a whole date as mm/dd/yyyy, or pick one from the calendar."


def list_requests(page: Page) -> list[str]:
    seen: list[str] = []

    def record(request: Request) -> None:
        if "/books/?" in request.url or "/books/count/" in request.url:
            seen.append(request.url)

    page.on("request", record)
    return seen


def test_a_reversed_date_range_is_explained_and_can_be_swapped(
    page: Page, api: APIRequestContext
) -> None:
    author = f"Reversed Range {unique_isbn()}"
    inside = create_book(api, author=author, publication_date="1995-05-05")
    create_book(api, author=author, publication_date="2005-05-05")
    page.goto(f"/app/?author_name={author.replace(' ', '+')}")
    expect(book_cards(page)).to_have_count(2)
    asked = list_requests(page)

    page.get_by_label("Published on or after").fill("2000-01-01")
    page.get_by_label("Published on or before").fill("1990-01-01")

    hint = page.locator("#catalogue-range-hint")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("The dates are the wrong way round")
    expect(hint).to_contain_text("January 1, 2000")
    expect(hint).to_contain_text("January 1, 1990")
    expect(book_cards(page)).to_have_count(0)
    expect(page.locator("#catalogue-empty")).to_be_hidden()  # not "No books match"
    # Only the first date's list was asked for; the reversed range asks for nothing.
    assert not any("published_before" in url for url in asked), asked

    hint.get_by_role("button", name="Swap the dates").click()

    expect(hint).to_be_hidden()
    expect(page.get_by_label("Published on or after")).to_have_value("1990-01-01")
    expect(page.get_by_label("Published on or before")).to_have_value("2000-01-01")
    expect(page).to_have_url(re.compile(r"published_after=1990-01-01&published_before=2000-01-01"))
    expect(book_cards(page)).to_have_count(1)
    expect(page.locator(".book-card__link")).to_have_text(inside["title"])


def test_a_reversed_range_in_the_address_gets_the_hint_too(page: Page) -> None:
    page.goto("/app/?published_after=2001-02-03&published_before=2001-02-02")

    expect(page.locator("#catalogue-range-hint")).to_contain_text("wrong way round")
    expect(page.locator("#catalogue-empty")).to_be_hidden()


def test_a_bad_date_in_the_address_is_explained_in_the_controls_format(page: Page) -> None:
    page.goto("/app/?published_after=1968")

    error = page.locator("#filter-published-after-error")
    expect(error).to_have_text(CONTROL_MESSAGE)
    expect(page.get_by_label("Published on or after")).to_have_attribute("aria-invalid", "true")
    assert "YYYY" not in (page.locator("#catalogue-filters").text_content() or "")


def test_a_partial_publication_date_is_explained_in_the_controls_format(
    page: Page, live_app: LiveApp
) -> None:
    sign_in(page, live_app)
    page.get_by_role("link", name="Add a book").click()
    form = page.locator("#book-form")
    form.get_by_label("Title").fill("A date half typed")
    form.get_by_label("Author").fill("Someone")
    form.get_by_label("ISBN").fill(unique_isbn())
    date = form.get_by_label("Publication date")
    date.click()
    date.press_sequentially("07")  # the month only: the control holds no date

    form.get_by_role("button", name="Save").click()

    expect(page.locator("#book-publication-date-error")).to_have_text(CONTROL_MESSAGE)
    expect(page.locator("#book-form-errors")).to_contain_text(
        f"Publication date: {CONTROL_MESSAGE}"
    )
    expect(date).to_be_focused()


def test_a_date_filter_left_half_typed_is_explained_not_dropped(page: Page) -> None:
    page.goto("/app/?published_after=2000-01-01")
    after = page.get_by_label("Published on or after")
    expect(after).to_have_value("2000-01-01")
    expect(book_cards(page).first).to_be_visible()
    asked = list_requests(page)

    after.click()  # the month's part of mm/dd/yyyy
    page.keyboard.press("Backspace")  # the month gone: the control holds no date
    after.blur()

    expect(page.locator("#filter-published-after-error")).to_have_text(CONTROL_MESSAGE)
    expect(after).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(re.compile(r"published_after=2000-01-01"))  # still the old list
    assert asked == []
