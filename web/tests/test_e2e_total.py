"""The list's total in the browser: exact ("23 books found") when the API's count is, else
"about" the planner's estimate, or the count's cap with a plus ("10,000+ books")."""

import json
import re

import pytest
from playwright.sync_api import APIRequestContext, Page, Route, expect

from web.tests.browser import book_cards, unique_isbn

pytestmark = pytest.mark.e2e

BOOKS_BY_AUTHOR = 23  # more than a page of 20
COUNT_URL = re.compile(r".*/books/count/(\?.*)?$")


def create_books_by(api: APIRequestContext, author: str, count: int) -> None:
    payload = [
        {
            "title": f"Counted book {number}",
            "author": author,
            "publication_date": "2001-02-03",
            "isbn": unique_isbn(),
        }
        for number in range(count)
    ]
    response = api.post("/books/", data=payload)
    assert response.status == 201, response.text()


def answer_count_with(page: Page, body: dict[str, object]) -> None:
    """The count as a large PostgreSQL catalogue would answer it."""

    def fulfill(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route(COUNT_URL, fulfill)


def test_the_total_is_exact_while_the_list_is_still_paged(
    page: Page, api: APIRequestContext
) -> None:
    author = f"Counted Author {unique_isbn()}"
    create_books_by(api, author, BOOKS_BY_AUTHOR)

    page.goto(f"/app/?author_name={author.replace(' ', '+')}")

    expect(book_cards(page)).to_have_count(20)
    status = page.locator("#catalogue-status")
    expect(status).to_have_text("23 books found; showing 20, more below.")

    page.mouse.wheel(0, 20000)  # the next page comes as the reader scrolls
    expect(book_cards(page)).to_have_count(BOOKS_BY_AUTHOR)
    expect(status).to_have_text("23 books found.")


def test_the_whole_catalogue_has_its_total_too(page: Page, api: APIRequestContext) -> None:
    total = api.get("/books/count/").json()
    assert total["exact"] is True

    page.goto("/app/")

    expect(page.locator("#catalogue-status")).to_have_text(
        f"{total['count']:,} books; showing 20, more below."
    )


def test_past_the_cap_the_total_is_about_the_estimate(page: Page) -> None:
    answer_count_with(page, {"count": 10_000, "exact": False, "estimate": 1_234_567})

    page.goto("/app/")

    expect(page.locator("#catalogue-status")).to_have_text(
        "about 1,200,000 books; showing 20, more below."
    )


def test_past_the_cap_without_an_estimate_the_total_is_the_cap_and_more(page: Page) -> None:
    answer_count_with(page, {"count": 10_000, "exact": False, "estimate": None})

    page.goto("/app/")

    expect(page.locator("#catalogue-status")).to_have_text("10,000+ books; showing 20, more below.")


def test_without_a_count_the_list_still_says_what_it_shows(page: Page) -> None:
    page.route(COUNT_URL, lambda route: route.fulfill(status=429))

    page.goto("/app/")

    expect(book_cards(page)).to_have_count(20)
    expect(page.locator("#catalogue-status")).to_have_text("20 books so far; more below.")
