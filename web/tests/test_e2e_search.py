"""Searching in a real browser: relevance order while searching (and an order the reader
picks), the forgiving author filter and author links, why nothing matched, and "did you mean"
when the API fell back to similar spellings."""

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import APIRequestContext, Locator, Page, Request, expect

from web.tests.browser import book_cards, create_book, screenshot, unique_isbn

pytestmark = pytest.mark.e2e

#: A word no seeded (lorem ipsum) book has, so the list of a search for it is known.
WORD = "quorvath"
TOLKIEN = "J. R. R. Tolkien"
MARQUEZ = "Gabriel García Márquez"


@pytest.fixture(scope="module")
def ranked_books(api: APIRequestContext) -> dict[str, dict[str, Any]]:
    """Books that WORD finds, created so that newest-first, title and relevance orders differ:
    relevance puts the exact title first, then the titles with the word (ties by id), then the
    author, then the summary."""
    books = {
        "exact": create_book(api, title="Quorvath"),
        "title 1": create_book(api, title="Children of Quorvath"),
        "title 2": create_book(api, title="Quorvath Messiah"),
        "summary": create_book(api, title="The Long Road", summary="A journey to quorvath."),
        "author": create_book(api, title="Winter Tales", author="Ilse Quorvath"),
    }
    return books


@pytest.fixture(scope="module")
def authors_books(api: APIRequestContext) -> dict[str, list[str]]:
    """Titles by author, newest first (the list's order without a search): names with
    initials and accents, which readers do not type as they are written."""
    titles = {
        TOLKIEN: ["The Hobbit", "The Silmarillion"],
        MARQUEZ: ["One Hundred Years of Solitude"],
    }
    for author, author_titles in titles.items():
        for title in reversed(author_titles):
            create_book(api, title=title, author=author, summary="")
    return titles


def titles(page: Page) -> Locator:
    return page.locator(".book-card__link")


def search_box(page: Page) -> Locator:
    return page.get_by_label("Search", exact=True)


def sort_control(page: Page) -> Locator:
    return page.get_by_label("Sort by")


def api_search(api: APIRequestContext, **params: str) -> dict[str, Any]:
    response = api.get("/books/", params={"page_size": "100", **params})
    assert response.status == 200, response.text()
    body: dict[str, Any] = response.json()
    return body


def record_list_queries(page: Page) -> list[dict[str, list[str]]]:
    """The query of every first-page list request the page makes from now on."""
    queries: list[dict[str, list[str]]] = []

    def record(request: Request) -> None:
        url = urlsplit(request.url)
        if url.path == "/books/" and "cursor=" not in url.query:
            queries.append(parse_qs(url.query))

    page.on("request", record)
    return queries


def test_a_search_is_ordered_by_relevance_unless_the_reader_picks_an_order(
    page: Page, ranked_books: dict[str, dict[str, Any]]
) -> None:
    by_relevance = [
        ranked_books[key]["title"] for key in ("exact", "title 1", "title 2", "author", "summary")
    ]
    newest_first = [book["title"] for book in reversed(ranked_books.values())]
    page.goto("/app/")
    expect(book_cards(page)).to_have_count(20)
    relevance = sort_control(page).locator("option[value='relevance']")
    expect(relevance).to_be_disabled()  # not offered without a search: the API refuses it
    queries = record_list_queries(page)

    search_box(page).fill(WORD)

    expect(page).to_have_url(re.compile(rf"/app/\?search={WORD}$"))
    expect(titles(page)).to_have_text(by_relevance)
    expect(sort_control(page)).to_have_value("relevance")
    expect(relevance).to_be_enabled()
    assert queries[-1] == {"search": [WORD], "page_size": ["20"]}  # the API's default order
    screenshot(page, "search-relevance")

    sort_control(page).select_option(label="Title, A to Z")
    expect(page).to_have_url(re.compile(r"ordering=title"))
    expect(titles(page)).to_have_text(sorted(by_relevance))

    sort_control(page).select_option(label="Newest added")
    expect(page).to_have_url(re.compile(r"ordering=-created_at"))
    expect(titles(page)).to_have_text(newest_first)
    search_box(page).fill(f"{WORD} ")  # editing the search keeps the order picked
    search_box(page).press("Enter")
    expect(sort_control(page)).to_have_value("-created_at")
    page.reload()
    expect(sort_control(page)).to_have_value("-created_at")
    expect(titles(page)).to_have_text(newest_first)

    sort_control(page).select_option(label="Relevance")
    expect(page).to_have_url(re.compile(rf"/app/\?search={WORD}$"))
    expect(titles(page)).to_have_text(by_relevance)

    search_box(page).fill("")  # no search, no relevance: back to the catalogue's own order
    expect(page).to_have_url(re.compile(r"/app/$"))
    expect(sort_control(page)).to_have_value("-created_at")
    expect(relevance).to_be_disabled()
    expect(book_cards(page)).to_have_count(20)


def test_an_order_picked_before_the_search_is_kept(
    page: Page, ranked_books: dict[str, dict[str, Any]]
) -> None:
    page.goto("/app/?ordering=title")
    expect(book_cards(page)).to_have_count(20)

    search_box(page).fill(WORD)

    expect(page).to_have_url(re.compile(rf"search={WORD}&ordering=title$"))
    expect(sort_control(page)).to_have_value("title")
    expect(titles(page)).to_have_text(sorted(book["title"] for book in ranked_books.values()))


def test_the_author_filter_forgives_initials_accents_and_first_names(
    page: Page, authors_books: dict[str, list[str]]
) -> None:
    page.goto("/app/")
    expect(book_cards(page)).to_have_count(20)
    filters = page.get_by_role("search", name="Search the catalogue")
    filters.get_by_text("Filter by author and date").click()
    author = filters.get_by_label("Author", exact=True)

    author.fill("j.r.r. tolkien")
    expect(page).to_have_url(re.compile(r"\?author_name=j\.r\.r\.\+tolkien$"))
    expect(titles(page)).to_have_text(authors_books[TOLKIEN])
    expect(page.locator(".book-card__author")).to_have_text([TOLKIEN] * 2)

    author.fill("garcia marquez")
    expect(titles(page)).to_have_text(authors_books[MARQUEZ])

    author.fill("Tolkien")
    expect(titles(page)).to_have_text(authors_books[TOLKIEN])


def test_a_books_author_links_to_the_authors_books(
    page: Page, authors_books: dict[str, list[str]]
) -> None:
    page.goto(f"/app/?search={authors_books[MARQUEZ][0].replace(' ', '+')}")
    card = book_cards(page).filter(has_text=authors_books[MARQUEZ][0])
    expect(card).to_have_count(1)

    card.get_by_role("link", name=MARQUEZ).click()

    expect(page).to_have_url(re.compile(r"/app/\?author_name=Gabriel\+Garc%C3%ADa\+M%C3%A1rquez$"))
    expect(titles(page)).to_have_text(authors_books[MARQUEZ])
    filters = page.get_by_role("search", name="Search the catalogue")
    expect(filters.get_by_label("Author", exact=True)).to_have_value(MARQUEZ)
    expect(search_box(page)).to_have_value("")

    page.goto("/app/?author_name=tolkien")
    book_cards(page).first.locator(".book-card__link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(authors_books[TOLKIEN][0])
    page.locator("#detail-author").click()
    expect(page).to_have_url(re.compile(r"/app/\?author_name=J\.\+R\.\+R\.\+Tolkien$"))
    expect(titles(page)).to_have_text(authors_books[TOLKIEN])


def test_an_empty_search_says_which_words_no_book_has(
    page: Page, api: APIRequestContext, ranked_books: dict[str, dict[str, Any]]
) -> None:
    empty = page.locator("#catalogue-empty")

    page.goto("/app/?search=zzqxv")
    expect(empty).to_contain_text("No book has the word “zzqxv”.")
    expect(empty).to_contain_text("Try fewer or different words")

    page.goto("/app/?search=zzqxv+wvxqz")
    words = api_search(api, search="zzqxv wvxqz")["search"]["words"]
    assert sorted(words) == ["wvxqz", "zzqxv"]
    quoted = ", ".join(f"“{word}”" for word in words)
    expect(empty).to_contain_text(f"No book has all of these words: {quoted}.")

    isbn = unique_isbn()
    page.goto(f"/app/?search={isbn}")
    expect(empty).to_contain_text(f"No book has the ISBN {isbn}.")


def test_an_empty_search_with_filters_says_the_filters_may_be_why(
    page: Page, ranked_books: dict[str, dict[str, Any]]
) -> None:
    page.goto(f"/app/?search={WORD}&published_before=1900-01-01")

    empty = page.locator("#catalogue-empty")
    expect(empty).to_contain_text(f"No book that fits the filters has the word “{WORD}”.")
    expect(empty).to_contain_text("The author and date filters may be excluding books")
    screenshot(page, "search-empty-filtered")

    empty.get_by_role("button", name="Clear search and filters").click()
    expect(book_cards(page)).to_have_count(20)


def test_a_misspelled_search_shows_similar_books_and_offers_the_correction(
    page: Page, authors_books: dict[str, list[str]]
) -> None:
    page.goto("/app/")
    expect(book_cards(page)).to_have_count(20)
    notice = page.locator("#catalogue-similar")
    expect(notice).to_be_hidden()

    search_box(page).fill("tolkein")

    expect(notice).to_have_text(
        "No exact matches for “tolkein”. Showing similar books — did you mean tolkien?"
    )
    for title in authors_books[TOLKIEN]:
        expect(titles(page).filter(has_text=title)).to_have_count(1)
    screenshot(page, "search-similar")

    notice.get_by_role("link", name="tolkien").click()
    expect(page).to_have_url(re.compile(r"/app/\?search=tolkien$"))
    expect(search_box(page)).to_have_value("tolkien")
    expect(notice).to_be_hidden()
    # Relevance: both match in the author only, so the older book (lower id) comes first.
    expect(titles(page)).to_have_text(list(reversed(authors_books[TOLKIEN])))
