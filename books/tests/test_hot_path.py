"""books.hot_path: anonymous JSON reads of books answered from the cache, everything else left
to Django, with the same answers, headers, conditional requests and rate limit."""

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from books.etags import etag_for, representation_tag
from books.hot_path import CachedReads
from books.models import Book
from books.serializers import BookSerializer
from books.tests.factories import BookFactory
from books.tests.wsgi import CountingDjango, WSGIResponse, connections_kept_open, request
from bookstore.wsgi import django_application
from core.throttling import anon_counter_key

pytestmark = pytest.mark.django_db

#: The headers that differ from one response to the next (each request counted once more:
#: the RateLimit fields' parity is books/tests/test_hot_path_parity.py's).
FRESH_HEADERS = ("X-Request-ID", "RateLimit")
#: A day's window: a test never straddles two windows, short of midnight UTC.
DAY = 24 * 60 * 60


@pytest.fixture
def book() -> Book:
    return BookFactory()


@pytest.fixture(params=["book", "list"])
def kind(request: pytest.FixtureRequest) -> str:
    """The two kinds of cached page: a book's own URL and a list page."""
    return str(request.param)


@pytest.fixture
def page_url(kind: str, book: Book) -> str:
    """The page of that kind: the book's URL, or the first list page."""
    return _url(book) if kind == "book" else "/books/"


def _url(book: Book) -> str:
    return f"/books/{book.pk}/"


def _paths(book: Book) -> list[str]:
    """A book's URL and the first list page, the two kinds of cached page."""
    return [_url(book), "/books/"]


def _served_by_django(
    django: CountingDjango, app: CachedReads, path: str, **kwargs: Any
) -> WSGIResponse:
    before = django.calls
    response = request(app, path=path, **kwargs)
    assert django.calls == before + 1, f"{path} {kwargs} was answered from the cache"
    return response


def _served_from_cache(
    django: CountingDjango, app: CachedReads, path: str, **kwargs: Any
) -> WSGIResponse:
    before = django.calls
    response = request(app, path=path, **kwargs)
    assert django.calls == before, f"{path} {kwargs} went to Django"
    return response


def _warm(django: CountingDjango, app: CachedReads, path: str, **kwargs: Any) -> WSGIResponse:
    """Read ``path`` until it is cached: a miss (stored), then a hit; the hit is returned."""
    miss = _served_by_django(django, app, path, **kwargs)
    assert miss.status == 200, miss.body
    return _served_from_cache(django, app, path, **kwargs)


# --- a release that changed the book's representation -----------------------------------------


def test_a_page_stored_before_a_release_that_changed_the_representation_is_not_replayed(
    hot_path: CachedReads, django: CountingDjango, page_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _warm(django, hot_path, page_url)
    monkeypatch.setattr(BookSerializer, "FORMAT_REVISION", BookSerializer.FORMAT_REVISION + 1)
    representation_tag.cache_clear()
    try:
        after = _served_by_django(django, hot_path, page_url)
        if page_url != "/books/":
            assert after.header("ETag") == etag_for(after.json()["id"], 1)
    finally:
        representation_tag.cache_clear()


# --- hits: the miss's answer, replayed --------------------------------------------------------


def test_a_hit_gives_the_body_and_headers_of_the_miss_with_a_fresh_request_id(
    hot_path: CachedReads, django: CountingDjango, page_url: str
) -> None:
    miss = _served_by_django(django, hot_path, page_url)
    hits = [_served_from_cache(django, hot_path, page_url) for _ in range(2)]

    for hit in hits:
        assert hit.status == miss.status == 200
        assert hit.body == miss.body
        assert hit.headers_without(*FRESH_HEADERS) == miss.headers_without(*FRESH_HEADERS)
    request_ids = {response.header("X-Request-ID") for response in [miss, *hits]}
    assert len(request_ids) == 3
    assert None not in request_ids


def test_a_hit_answers_the_book_as_stored(hot_path: CachedReads, django: CountingDjango) -> None:
    book = BookFactory(title="Dune", author="Frank Herbert")

    hit = _warm(django, hot_path, _url(book))

    assert hit.header("Content-Type") == "application/json"
    assert hit.header("ETag") == etag_for(book.pk, 1)
    assert hit.header("Cache-Control") == "no-cache"
    assert hit.header("Content-Length") == str(len(hit.body))
    assert hit.json()["title"] == "Dune"
    assert hit.json()["author"] == "Frank Herbert"


def test_a_hit_costs_no_database_query(
    hot_path: CachedReads, django: CountingDjango, page_url: str
) -> None:
    _warm(django, hot_path, page_url)

    with CaptureQueriesContext(connection) as queries:
        hit = request(hot_path, path=page_url)

    assert hit.status == 200
    assert list(queries) == []


def test_a_hit_repeats_a_safe_request_id_of_the_client(
    hot_path: CachedReads, django: CountingDjango, book: Book
) -> None:
    _warm(django, hot_path, _url(book))

    hit = _served_from_cache(django, hot_path, _url(book), headers={"X-Request-ID": "trace-42"})
    unsafe = _served_from_cache(django, hot_path, _url(book), headers={"X-Request-ID": "a b\r\n"})

    assert hit.header("X-Request-ID") == "trace-42"
    assert unsafe.header("X-Request-ID") not in (None, "a b\r\n")


@pytest.mark.parametrize("accept", ["application/json", "*/*", " */* "])
def test_json_accept_headers_are_answered_from_the_cache(
    hot_path: CachedReads, django: CountingDjango, book: Book, accept: str
) -> None:
    hit = _warm(django, hot_path, _url(book))

    response = _served_from_cache(django, hot_path, _url(book), headers={"Accept": accept})

    assert response.body == hit.body


def test_nothing_is_answered_from_the_cache_when_it_is_disabled(
    settings: Any, django: CountingDjango, book: Book
) -> None:
    settings.READ_CACHE_ENABLED = False
    with connections_kept_open():
        app = CachedReads(django)
        for _ in range(2):
            for path in _paths(book):
                assert _served_by_django(django, app, path).status == 200


# --- conditional requests ---------------------------------------------------------------------


def test_a_matching_if_none_match_gets_a_304_from_the_cache(
    hot_path: CachedReads, django: CountingDjango, page_url: str
) -> None:
    hit = _warm(django, hot_path, page_url)
    etag = hit.header("ETag")
    assert etag is not None

    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        not_modified = _served_from_cache(
            django, hot_path, page_url, headers={"If-None-Match": header}
        )
        assert not_modified.status == 304, header
        assert not_modified.body == b""
        assert not_modified.header("ETag") == etag
        assert not_modified.header("Content-Type") is None
        assert not_modified.header("Content-Length") is None
        assert not_modified.header("X-Request-ID")


def test_the_cache_and_django_agree_on_a_304(
    hot_path: CachedReads, django: CountingDjango, page_url: str
) -> None:
    etag = _warm(django, hot_path, page_url).header("ETag")
    assert etag is not None

    cached = request(hot_path, path=page_url, headers={"If-None-Match": etag})
    direct = request(django_application, path=page_url, headers={"If-None-Match": etag})

    assert cached.status == direct.status == 304
    assert cached.body == direct.body == b""
    assert cached.header("ETag") == direct.header("ETag")
    assert cached.header("Cache-Control") == direct.header("Cache-Control")


def test_a_stale_if_none_match_gets_the_whole_page(
    hot_path: CachedReads, django: CountingDjango, book: Book
) -> None:
    hit = _warm(django, hot_path, _url(book))

    response = _served_from_cache(
        django, hot_path, _url(book), headers={"If-None-Match": etag_for(book.pk, 0)}
    )

    assert response.status == 200
    assert response.body == hit.body


# --- HEAD ---------------------------------------------------------------------------------------


def test_head_on_a_cached_page_has_its_headers_and_no_body(
    hot_path: CachedReads, django: CountingDjango, page_url: str
) -> None:
    hit = _warm(django, hot_path, page_url)

    head = _served_from_cache(django, hot_path, page_url, method="HEAD")

    assert head.status == 200
    assert head.body == b""
    assert head.headers_without(*FRESH_HEADERS) == hit.headers_without(*FRESH_HEADERS)


def test_head_is_never_stored(hot_path: CachedReads, django: CountingDjango, book: Book) -> None:
    request(hot_path, "HEAD", _url(book))

    response = _served_by_django(django, hot_path, _url(book))

    assert response.status == 200
    assert response.json()["id"] == book.pk


# --- what goes to Django ------------------------------------------------------------------------

BYPASSES: dict[str, dict[str, Any]] = {
    "an unknown token": {"headers": {"Authorization": "Token not-a-real-token"}},
    "an empty authorization": {"headers": {"Authorization": ""}},
    "a session cookie": {"headers": {"Cookie": "sessionid=not-a-real-session"}},
    "a session cookie among others": {"headers": {"Cookie": "theme=dark; sessionid=x"}},
    # Django's parse_cookie strips the name: this is its session cookie too (issue 13, #8).
    "a session cookie with a space before =": {"headers": {"Cookie": "sessionid =x"}},
    "a session cookie with spaces around": {"headers": {"Cookie": "theme=dark;  sessionid = x"}},
    "an origin": {"headers": {"Origin": "https://elsewhere.example"}},
    "an html accept": {"headers": {"Accept": "text/html"}},
    "a browser's accept": {"headers": {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}},
    "a json accept with parameters": {"headers": {"Accept": "application/json; indent=4"}},
    "a disallowed host": {"headers": {"Host": "evil.example"}},
    "an empty host": {"headers": {"Host": ""}},
    "no host, a disallowed server name": {"headers": {"Host": None}, "SERVER_NAME": "evil.example"},
    "options": {"method": "OPTIONS"},
}


@pytest.mark.parametrize("case", BYPASSES.values(), ids=BYPASSES.keys())
def test_requests_not_anonymous_json_go_to_django_and_are_not_stored(
    hot_path: CachedReads, django: CountingDjango, page_url: str, case: dict[str, Any]
) -> None:
    hit = _warm(django, hot_path, page_url)

    for _ in range(2):  # nor is Django's answer stored for the next such request
        response = _served_by_django(django, hot_path, page_url, **case)
        direct = request(django_application, path=page_url, **case)
        assert response.status == direct.status
        assert response.header("Content-Type") == direct.header("Content-Type")
    # And the cached page is untouched.
    assert _served_from_cache(django, hot_path, page_url).body == hit.body


def test_an_unknown_token_gets_djangos_401_even_for_a_cached_book(
    hot_path: CachedReads, django: CountingDjango, book: Book
) -> None:
    _warm(django, hot_path, _url(book))

    response = _served_by_django(
        django, hot_path, _url(book), headers={"Authorization": "Token not-a-real-token"}
    )

    assert response.status == 401
    assert response.header("WWW-Authenticate") == "Token"


def test_a_disallowed_host_gets_djangos_400_even_for_a_cached_book(
    hot_path: CachedReads, django: CountingDjango, book: Book
) -> None:
    _warm(django, hot_path, _url(book))

    response = _served_by_django(django, hot_path, _url(book), headers={"Host": "evil.example"})

    assert response.status == 400


def test_a_books_url_with_a_query_string_goes_to_django(
    hot_path: CachedReads, django: CountingDjango, book: Book
) -> None:
    _warm(django, hot_path, _url(book))

    browsable = _served_by_django(django, hot_path, _url(book), query="format=api")
    json_format = _served_by_django(django, hot_path, _url(book), query="format=json")

    assert browsable.status == 200
    assert (browsable.header("Content-Type") or "").startswith("text/html")
    assert json_format.header("Content-Type") == "application/json"


def test_a_browsable_list_page_is_not_stored(
    hot_path: CachedReads, django: CountingDjango, book: Book
) -> None:
    for _ in range(2):
        page = _served_by_django(django, hot_path, "/books/", query="format=api")
        assert (page.header("Content-Type") or "").startswith("text/html")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_go_to_django(
    hot_path: CachedReads, django: CountingDjango, book: Book, method: str
) -> None:
    _warm(django, hot_path, _url(book))
    _warm(django, hot_path, "/books/")

    path = "/books/" if method == "POST" else _url(book)
    response = _served_by_django(django, hot_path, path, method=method, body=b"{}")

    assert response.status == 401  # anonymous


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/books/999999/", 404),
        ("/books/000{pk}/", 200),  # the book, but not at its own URL
        ("/books/{pk}", 301),
        ("/books/export/", 401),
    ],
)
def test_other_answers_are_not_stored(
    hot_path: CachedReads, django: CountingDjango, book: Book, path: str, status: int
) -> None:
    for _ in range(2):
        assert _served_by_django(django, hot_path, path.format(pk=book.pk)).status == status


# --- HTTPS behind the proxy --------------------------------------------------------------------

HSTS = "max-age=31536000; includeSubDomains; preload"


def test_hsts_is_sent_on_hits_over_https_only(
    settings: Any, hot_path: CachedReads, django: CountingDjango, kind: str, page_url: str
) -> None:
    assert settings.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    assert settings.SECURE_HSTS_SECONDS == 31_536_000
    https = {"headers": {"X-Forwarded-Proto": "https"}}
    plain = {"headers": {"X-Forwarded-Proto": "http"}, "wsgi.url_scheme": "https"}

    secure_miss = _served_by_django(django, hot_path, page_url, **https)
    secure_hit = _served_from_cache(django, hot_path, page_url, **https)
    if kind == "list":  # pages of each scheme are cached apart (their links differ)
        _served_by_django(django, hot_path, page_url, **plain)
    plain_hit = _served_from_cache(django, hot_path, page_url, **plain)

    assert secure_miss.header("Strict-Transport-Security") == HSTS
    assert secure_hit.header("Strict-Transport-Security") == HSTS
    assert plain_hit.header("Strict-Transport-Security") is None
    direct = request(django_application, path=page_url, **plain)
    assert direct.header("Strict-Transport-Security") is None


def test_the_first_forwarded_proto_decides_as_it_does_for_django(
    hot_path: CachedReads, django: CountingDjango, book: Book
) -> None:
    _warm(django, hot_path, _url(book))
    headers = {"X-Forwarded-Proto": "https, http"}

    hit = _served_from_cache(django, hot_path, _url(book), headers=headers)
    direct = request(django_application, path=_url(book), headers=headers)

    assert hit.header("Strict-Transport-Security") == direct.header("Strict-Transport-Security")
    assert hit.header("Strict-Transport-Security") == HSTS


# --- list pages: one entry per scheme, host and query -------------------------------------------


def test_list_pages_are_cached_per_host_and_scheme(
    hot_path: CachedReads, django: CountingDjango
) -> None:
    BookFactory.create_batch(2)
    clients = [
        {"headers": {"Host": "localhost"}},
        {"headers": {"Host": "127.0.0.1"}},
        {"headers": {"Host": "localhost:8000"}},
        {"headers": {"Host": "localhost", "X-Forwarded-Proto": "https"}},
    ]
    expected = ["http://localhost/", "http://127.0.0.1/", "http://localhost:8000/"]
    expected.append("https://localhost/")

    for client, origin in zip(clients, expected, strict=True):
        hit = _warm(django, hot_path, "/books/", query="page_size=1", **client)
        assert hit.json()["next"].startswith(f"{origin}books/?"), (client, hit.json()["next"])
    for client, origin in zip(clients, expected, strict=True):
        hit = _served_from_cache(django, hot_path, "/books/", query="page_size=1", **client)
        assert hit.json()["next"].startswith(f"{origin}books/?")


def test_a_request_without_a_host_header_is_cached_apart_from_one_naming_the_host(
    hot_path: CachedReads, django: CountingDjango
) -> None:
    """An HTTP/1.0 client may send no Host: Django then names the server, port included."""
    BookFactory.create_batch(2)
    no_host = {"headers": {"Host": None}, "SERVER_NAME": "localhost", "SERVER_PORT": "8000"}

    for _ in range(2):
        page = request(hot_path, path="/books/", query="page_size=1", **no_host).json()
        assert page["next"].startswith("http://localhost:8000/books/?")
        page = request(hot_path, path="/books/", query="page_size=1").json()
        assert page["next"].startswith("http://localhost/books/?")


def test_list_pages_are_cached_per_query(hot_path: CachedReads, django: CountingDjango) -> None:
    BookFactory(title="Dune", author="Frank Herbert")
    BookFactory(title="Emma", author="Jane Austen")
    queries = {
        "": {"Dune", "Emma"},
        "author=Jane Austen": {"Emma"},
        "author=Frank Herbert": {"Dune"},
        "page_size=1&ordering=title": {"Dune"},
        "page_size=1&ordering=-title": {"Emma"},
    }

    for query, titles in queries.items():
        hit = _warm(django, hot_path, "/books/", query=query)
        assert {item["title"] for item in hit.json()["results"]} == titles, query
    for query, titles in queries.items():
        hit = _served_from_cache(django, hot_path, "/books/", query=query)
        assert {item["title"] for item in hit.json()["results"]} == titles, query


def test_following_a_cached_pages_next_link_gives_the_next_page(
    hot_path: CachedReads, django: CountingDjango
) -> None:
    books = BookFactory.create_batch(3)
    seen: list[int] = []
    query = "page_size=1"
    for _ in range(2):  # the walk twice: the second time every page is a hit
        seen.clear()
        query = "page_size=1"
        while True:
            page = request(hot_path, path="/books/", query=query).json()
            seen += [item["id"] for item in page["results"]]
            if page["next"] is None:
                break
            query = page["next"].split("?", 1)[1]

    assert sorted(seen) == sorted(book.pk for book in books)
    calls = django.calls
    request(hot_path, path="/books/", query="page_size=1")
    assert django.calls == calls


# --- the anonymous rate limit -----------------------------------------------------------------


@pytest.fixture
def three_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three anonymous requests a day: the limit is reached within the test.

    DRF's throttles read the rates from their class attribute, the hot path from api_settings
    (the same dict, unless the settings were reloaded): both are changed, so they agree.
    """
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "3/day")
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "anon", "3/day")


def _anon_count() -> int | None:
    return cache.get(anon_counter_key({"REMOTE_ADDR": "127.0.0.1"}, DAY))


def _assert_throttled(response: WSGIResponse) -> None:
    assert response.status == 429, response.body
    assert response.header("Content-Type") == "application/json"
    assert "throttled" in response.json()["detail"].lower()
    retry_after = response.header("Retry-After")
    assert retry_after is not None
    assert 0 < int(retry_after) <= DAY


@pytest.mark.usefixtures("three_a_day")
def test_hits_count_and_the_request_over_the_limit_gets_djangos_429(
    hot_path: CachedReads, django: CountingDjango, page_url: str
) -> None:
    _served_by_django(django, hot_path, page_url)
    assert _anon_count() == 1  # the miss is counted once, by the hot path alone
    for count in (2, 3):
        assert _served_from_cache(django, hot_path, page_url).status == 200
        assert _anon_count() == count

    _assert_throttled(_served_by_django(django, hot_path, page_url))
    assert _anon_count() == 4
    _assert_throttled(_served_by_django(django, hot_path, page_url, method="HEAD"))
    assert _anon_count() == 5


@pytest.mark.usefixtures("three_a_day")
def test_the_limit_is_one_limit_whichever_path_serves_the_client(
    hot_path: CachedReads, django: CountingDjango, book: Book
) -> None:
    html = {"headers": {"Accept": "text/html"}}
    _served_by_django(django, hot_path, _url(book), **html)  # counted by Django's throttle
    _served_by_django(django, hot_path, "/books/")  # a miss, counted by the hot path
    assert _anon_count() == 2
    assert _served_by_django(django, hot_path, _url(book)).status == 200  # 3: at the limit

    _assert_throttled(_served_by_django(django, hot_path, "/books/"))  # cached, yet refused
    browsable = _served_by_django(django, hot_path, _url(book), **html)
    assert browsable.status == 429
    assert browsable.header("Retry-After")


@pytest.mark.usefixtures("three_a_day")
def test_other_clients_have_their_own_count(
    hot_path: CachedReads, django: CountingDjango, book: Book
) -> None:
    _warm(django, hot_path, _url(book))
    request(hot_path, path=_url(book))
    _assert_throttled(request(hot_path, path=_url(book)))

    other = _served_from_cache(django, hot_path, _url(book), REMOTE_ADDR="10.0.0.2")

    assert other.status == 200


@pytest.mark.usefixtures("three_a_day")
def test_signed_in_reads_are_not_counted_as_anonymous(
    hot_path: CachedReads, django: CountingDjango, book: Book, token: str
) -> None:
    for _ in range(4):
        response = request(hot_path, path=_url(book), headers={"Authorization": f"Token {token}"})
        assert response.status == 200

    assert _anon_count() is None
