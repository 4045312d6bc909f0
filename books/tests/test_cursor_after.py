"""cursor_after(): a cursor made outside a request opens the page right after its book."""

import pytest
from rest_framework.test import APIClient

from books.models import Book
from books.pagination import cursor_after
from books.tests.factories import BookFactory
from books.tests.pages import LIST_URL, get_page, ids

pytestmark = pytest.mark.django_db


def ordered_ids(*order: str) -> list[int]:
    return list(Book.objects.order_by(*order).values_list("id", flat=True))


def test_cursor_after_a_book_opens_the_page_of_the_books_after_it(api_client: APIClient) -> None:
    BookFactory.create_batch(30)
    order = ordered_ids("-created_at", "-id")
    book = Book.objects.get(pk=order[6])

    page = get_page(api_client, LIST_URL, {"cursor": cursor_after(book), "page_size": 5})

    assert ids(page) == order[7:12]
    assert page["previous"] is not None


def test_cursor_after_follows_the_ordering_it_is_given(api_client: APIClient) -> None:
    BookFactory.create_batch(12)
    order = ordered_ids("title", "id")
    book = Book.objects.get(pk=order[3])

    page = get_page(
        api_client, LIST_URL, {"cursor": cursor_after(book, "title"), "ordering": "title"}
    )

    assert ids(page) == order[4:]


def test_cursor_after_refuses_an_ordering_the_list_does_not_offer() -> None:
    book = BookFactory()

    with pytest.raises(ValueError, match="ordering"):
        cursor_after(book, "isbn")
