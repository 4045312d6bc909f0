"""How a book's facts read in the browser: a publication date only as precise as it is known
("1965", "July 1968"), and the ISBN hyphenated as printed on books (the API's isbn_display)."""

import random

import pytest
from playwright.sync_api import APIRequestContext, Page, expect

from web.tests.browser import book_cards, create_book, sign_in, unique_isbn
from web.tests.live_app import LiveApp

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("given", "precision", "shown", "machine_readable"),
    [
        ("1965", "year", "1965", "1965"),
        ("1968-07", "month", "July 1968", "1968-07"),
        ("1968-07-20", "day", "July 20, 1968", "1968-07-20"),
    ],
)
def test_a_date_reads_as_precisely_as_it_is_known(
    page: Page,
    api: APIRequestContext,
    given: str,
    precision: str,
    shown: str,
    machine_readable: str,
) -> None:
    author = f"Precise Author {unique_isbn()}"
    book = create_book(api, author=author, publication_date=given)
    assert book["publication_date_precision"] == precision

    page.goto(f"/app/?author_name={author.replace(' ', '+')}")
    card_date = book_cards(page).locator(".book-card__date")
    expect(card_date).to_have_text(shown)
    expect(card_date).to_have_attribute("datetime", machine_readable)

    page.get_by_role("link", name=book["title"]).click()
    published = page.locator("#detail-published")
    expect(published).to_have_text(shown)
    expect(published).to_have_attribute("datetime", machine_readable)


def test_editing_another_field_keeps_a_year_only_date(
    page: Page, api: APIRequestContext, live_app: LiveApp
) -> None:
    book = create_book(api, publication_date="1965")
    sign_in(page, live_app)
    page.goto(f"/app/books/{book['id']}/edit/")
    page.locator("#book-form").get_by_label("Title").fill("Retitled, same year")

    page.get_by_role("button", name="Save").click()

    expect(page.locator("#detail-published")).to_have_text("1965")
    stored = api.get(f"/books/{book['id']}/").json()
    assert (stored["publication_date"], stored["publication_date_precision"]) == (
        "1965-01-01",
        "year",
    )


def isbn_of_publisher_0_306() -> tuple[str, str]:
    """A new ISBN of the English-language group's publisher 306 (five-digit item numbers):
    its 13 digits, and how it is printed (978-0-306-ITEM-CHECK)."""
    body = f"9780306{random.randrange(10**5):05d}"
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(body))
    check = str((10 - total % 10) % 10)
    return body + check, f"978-0-306-{body[7:]}-{check}"


def test_the_isbn_is_shown_hyphenated(page: Page, api: APIRequestContext) -> None:
    digits, printed = isbn_of_publisher_0_306()
    book = create_book(api, isbn=digits)
    assert book["isbn"] == digits

    page.goto(f"/app/books/{book['id']}/")

    expect(page.locator("#detail-isbn")).to_have_text(printed)
