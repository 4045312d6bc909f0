"""GET /books/count/: how many books a list has, exact up to a cap, cheap on any catalogue."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from books import selectors
from books.tests.factories import plain_book as make_book
from books.tests.pages import LIST_URL, walk_forward

pytestmark = pytest.mark.django_db

COUNT_URL = "/books/count/"


def count(client: APIClient, **params: str) -> dict[str, Any]:
    response = client.get(COUNT_URL, params)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def listed(client: APIClient, **params: object) -> int:
    """How many books the list itself gives for ``params``, over all its pages."""
    return sum(len(page["results"]) for page in walk_forward(client, {"page_size": 100, **params}))


@pytest.fixture
def catalogue() -> None:
    make_book(title="The Hobbit", author="J. R. R. Tolkien", publication_date="1937-09-21")
    make_book(title="The Silmarillion", author="J. R. R. Tolkien", publication_date="1977-09-15")
    make_book(title="Dragonflight", author="Anne McCaffrey", publication_date="1968-07-01")
    make_book(title="Dune", author="Frank Herbert", publication_date="1965-08-01")
    make_book(title="Dragon's Egg", author="Robert L. Forward", publication_date="1980-01-01")


def test_an_unfiltered_count_is_every_book_exactly(api_client: APIClient, catalogue: None) -> None:
    assert count(api_client) == {"count": 5, "exact": True, "estimate": None}


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize(
    "params",
    [
        {"author_name": "tolkien"},
        {"author": "frank herbert"},
        {"published_after": "1966-01-01"},
        {"published_before": "1966-01-01"},
        {"published_after": "1960-01-01", "published_before": "1970-12-31"},
        {"published_after": "1990-01-01", "published_before": "1960-01-01"},  # reversed: none
        {"search": "dragon"},
        {"search": "drag", "ordering": "title"},
        {"search": "tolkien", "published_after": "1950-01-01"},
        {"search": "tolkein"},  # a typo: the list shows the similar books, and so counts them
        {"search": "nothing-like-it"},
        {"isbn": "978-0-00-000000-2"},
    ],
)
def test_the_count_is_what_the_list_with_the_same_query_gives(
    api_client: APIClient, params: dict[str, str]
) -> None:
    expected = listed(api_client, **params)

    assert count(api_client, **params) == {"count": expected, "exact": True, "estimate": None}


def test_past_the_cap_the_count_says_at_least(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 3)
    for _ in range(5):
        make_book()
    make_book(author="Frank Herbert")

    body = count(api_client)

    assert body["count"] == 3
    assert body["exact"] is False
    assert count(api_client, author="frank herbert") == {
        "count": 1,
        "exact": True,
        "estimate": None,
    }


def test_on_postgresql_past_the_cap_the_planners_estimate_is_given(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        assert count(api_client)["estimate"] is None  # no planner to ask: never invented
        return
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 3)
    for _ in range(6):
        make_book()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE books_book")

    assert count(api_client) == {"count": 3, "exact": False, "estimate": 6}


def test_the_count_reads_no_further_than_its_cap(api_client: APIClient, catalogue: None) -> None:
    with CaptureQueriesContext(connection) as queries:
        count(api_client, published_after="1900-01-01")

    counts = [query["sql"] for query in queries if "COUNT(" in query["sql"].upper()]
    assert len(counts) == 1
    assert f"LIMIT {selectors.COUNT_LIMIT + 1}" in counts[0]


def test_bad_filters_are_a_400_like_the_lists(api_client: APIClient) -> None:
    for params in ({"published_after": "1968"}, {"isbn": "12"}, {"colour": "red"}):
        from_count = api_client.get(COUNT_URL, params)
        from_list = api_client.get(LIST_URL, params)

        assert from_count.status_code == 400
        assert from_count.json() == from_list.json()


def test_the_count_is_throttled_like_the_list(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "anon": "3/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    assert api_client.get(LIST_URL).status_code == 200
    for _ in range(2):
        assert api_client.get(COUNT_URL).status_code == 200

    response = api_client.get(COUNT_URL)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_the_count_is_in_the_schema(api_client: APIClient) -> None:
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/books/count/"]["get"]

    assert operation["summary"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"search", "author_name", "published_after", "published_before"} <= names
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]
    assert set(component["required"]) == {"count", "exact", "estimate"}
