"""What a cached list page is keyed on (issue 13, findings 3 and 4): everything that shapes
its body (scheme, host, script prefix, the list's parameters in their canonical form) and
nothing else, so no request can poison another's page or add entries with junk."""

import pytest

from books.hot_path import CachedReads
from books.tests.factories import BookFactory
from books.tests.wsgi import CountingDjango, connections_kept_open, request
from bookstore.wsgi import django_application

pytestmark = pytest.mark.django_db


def test_a_script_prefix_does_not_poison_the_page_of_readers_without_one(
    hot_path: CachedReads, django: CountingDjango
) -> None:
    BookFactory.create_batch(2)
    for _ in range(2):
        poisoned = request(hot_path, path="/books/", query="page_size=1", SCRIPT_NAME="/evil")
        assert poisoned.json()["next"].startswith("http://localhost/evil/books/?")

    page = request(hot_path, path="/books/", query="page_size=1")

    assert page.json()["next"].startswith("http://localhost/books/?")


def test_a_page_under_a_script_prefix_is_cached_with_its_prefix(
    hot_path: CachedReads, django: CountingDjango
) -> None:
    BookFactory.create_batch(2)
    request(hot_path, path="/books/", query="page_size=1")
    for _ in range(2):
        page = request(hot_path, path="/books/", query="page_size=1", SCRIPT_NAME="/shop")
        assert page.json()["next"].startswith("http://localhost/shop/books/?")


SAME_PAGE = [
    "page_size=1&ordering=title",
    "ordering=title&page_size=1",
    "page_size=01&ordering=title",
    "page_size=7&page_size=1&ordering=title",  # the last value counts, as in Django
    "page_size=1&ordering=title&author=",
    "page_size=1&ordering=title&search=%20",
]


def test_spellings_of_one_query_share_one_cached_page(
    hot_path: CachedReads, django: CountingDjango
) -> None:
    BookFactory.create_batch(3)
    first = request(hot_path, path="/books/", query=SAME_PAGE[0])
    calls = django.calls

    for query in SAME_PAGE[1:]:
        page = request(hot_path, path="/books/", query=query)
        assert page.status == 200, (query, page.body)
        assert page.body == first.body, query
    assert django.calls == calls


def test_djangos_links_are_the_canonical_query_whatever_the_spelling() -> None:
    BookFactory.create_batch(3)
    links = set()
    with connections_kept_open():
        for query in SAME_PAGE:
            page = request(django_application, path="/books/", query=query).json()
            links.add(page["next"].split("cursor=")[0])
    assert len(links) == 1, links


def test_the_default_page_size_and_ordering_share_the_first_pages_entry(
    hot_path: CachedReads, django: CountingDjango
) -> None:
    BookFactory.create_batch(2)
    request(hot_path, path="/books/")
    calls = django.calls

    for query in ("page_size=20", "ordering=-created_at", "page_size=20&ordering=-created_at"):
        assert request(hot_path, path="/books/", query=query).status == 200
    assert django.calls == calls


@pytest.mark.parametrize("query", ["junk=1", "page=2", "limit=5", "page_size=1&junk=1"])
def test_unknown_parameters_are_never_cached(
    hot_path: CachedReads, django: CountingDjango, query: str
) -> None:
    for _ in range(2):
        calls = django.calls
        response = request(hot_path, path="/books/", query=query)
        assert response.status == 400
        assert django.calls == calls + 1
