"""Conditional requests on a book: ETags, If-None-Match, and If-Match against lost updates."""

import contextlib
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from books import services
from books.etags import etag_for
from books.models import Book
from books.tests.concurrency import RACERS, run_together
from books.tests.factories import BookFactory, book_payload
from core.conditional import PreconditionFailed

WRITE_METHODS = ["put", "patch", "delete"]


def _url(book: Book) -> str:
    return f"/books/{book.pk}/"


def _stored(book: Book) -> dict[str, Any]:
    """Every column of the book's row, to prove a refused write changed nothing."""
    return dict(Book.objects.values().get(pk=book.pk))


def _version(book: Book) -> int:
    return Book.objects.values_list("version", flat=True).get(pk=book.pk)


def _etag_of(client: APIClient, book: Book) -> str:
    response = client.get(_url(book))
    assert response.status_code == 200, response.content
    return str(response["ETag"])


def _write(client: APIClient, method: str, book: Book, **headers: str) -> Any:
    """A valid PUT, PATCH or DELETE of ``book``, with the given request headers."""
    if method == "put":
        body: dict[str, object] | None = book_payload(isbn=book.isbn, title="Put Title")
    elif method == "patch":
        body = {"title": "Patched Title"}
    else:
        body = None
    return getattr(client, method)(_url(book), body, format="json", headers=headers)


def _assert_write_succeeded(response: Any, method: str, book: Book, version_before: int) -> None:
    if method == "delete":
        assert response.status_code == 204, response.content
        assert not Book.objects.filter(pk=book.pk).exists()
        return
    assert response.status_code == 200, response.content
    assert _version(book) == version_before + 1
    assert response["ETag"] == etag_for(book.pk, version_before + 1)


def _assert_precondition_failed(response: Any, book: Book, before: dict[str, Any]) -> None:
    assert response.status_code == 412, response.content
    assert response.json() == {"detail": str(PreconditionFailed.default_detail)}
    assert _stored(book) == before


@pytest.fixture
def book(db: None) -> Book:
    return BookFactory()


@pytest.fixture
def second_client(token: str) -> APIClient:
    """Another client with write access: the other party of a lost-update race."""
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


# --- The ETag ---------------------------------------------------------------------------


def test_get_returns_a_strong_etag_of_the_id_and_version(api_client, book):
    response = api_client.get(_url(book))

    assert response.status_code == 200
    assert response["ETag"] == etag_for(book.pk, 1)


def test_etag_is_stable_across_reads_with_no_write_between(api_client, book):
    assert _etag_of(api_client, book) == _etag_of(api_client, book)


def test_etag_of_another_book_differs(api_client, book):
    other = BookFactory()

    assert _etag_of(api_client, book) != _etag_of(api_client, other)


def test_post_answers_with_the_etag_a_get_then_returns(auth_client, api_client, db):
    response = auth_client.post("/books/", book_payload(), format="json")

    assert response.status_code == 201, response.content
    created = Book.objects.get(pk=response.json()["id"])
    assert created.version == 1
    assert response["ETag"] == _etag_of(api_client, created)


def test_each_put_and_patch_answers_with_a_new_etag_that_get_then_returns(
    auth_client, api_client, book
):
    original = _etag_of(api_client, book)

    put = auth_client.put(_url(book), book_payload(isbn=book.isbn), format="json")
    after_put = _etag_of(api_client, book)
    patch = auth_client.patch(_url(book), {"title": "Second Edition"}, format="json")
    after_patch = _etag_of(api_client, book)

    assert put.status_code == 200, put.content
    assert patch.status_code == 200, patch.content
    assert put["ETag"] == after_put
    assert patch["ETag"] == after_patch
    assert len({original, after_put, after_patch}) == 3
    assert _version(book) == 3


@pytest.mark.parametrize("method", ["put", "patch"])
def test_write_without_if_match_is_unconditional_and_bumps_the_version(auth_client, book, method):
    response = _write(auth_client, method, book)

    _assert_write_succeeded(response, method, book, version_before=1)


def test_delete_without_if_match_is_unconditional(auth_client, book):
    BookFactory()  # a neighbour, which must survive

    response = _write(auth_client, "delete", book)

    _assert_write_succeeded(response, "delete", book, version_before=1)
    assert Book.objects.count() == 1


# --- If-None-Match: 304 for a client whose copy is current --------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "{etag}",
        "W/{etag}",
        '"0-0", {etag}',
        '"0-0",W/{etag}, "9-9"',
        "*",
    ],
    ids=["exact", "weak", "list", "weak-in-list", "star"],
)
def test_if_none_match_with_the_current_etag_answers_304_with_no_body(api_client, book, header):
    etag = _etag_of(api_client, book)

    response = api_client.get(_url(book), headers={"If-None-Match": header.format(etag=etag)})

    assert response.status_code == 304
    # The test client drops a 304's body as servers do; Content-Length tells what was sent.
    assert response.content == b""
    assert response.get("Content-Length", "0") == "0"
    assert response["ETag"] == etag


def test_if_none_match_with_a_stale_etag_answers_200_with_the_book(auth_client, api_client, book):
    stale = _etag_of(api_client, book)
    auth_client.patch(_url(book), {"title": "Second Edition"}, format="json")

    response = api_client.get(_url(book), headers={"If-None-Match": stale})

    assert response.status_code == 200
    assert response.json()["title"] == "Second Edition"
    assert response["ETag"] == etag_for(book.pk, 2)


@pytest.mark.parametrize(
    "header",
    ['"0-0"', '"0-0", "9-9"', "{pk}-1", "garbage", ""],
    ids=["other-tag", "list-of-others", "unquoted", "garbage", "empty"],
)
def test_if_none_match_not_naming_the_current_etag_answers_200(api_client, book, header):
    response = api_client.get(_url(book), headers={"If-None-Match": header.format(pk=book.pk)})

    assert response.status_code == 200
    assert response.json()["id"] == book.pk
    assert response["ETag"] == etag_for(book.pk, 1)


def test_if_none_match_with_another_books_etag_answers_200(api_client, book):
    other_etag = _etag_of(api_client, BookFactory())

    response = api_client.get(_url(book), headers={"If-None-Match": other_etag})

    assert response.status_code == 200
    assert response.json()["id"] == book.pk


# --- If-Match: writes only on the version the client read ---------------------------------


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_write_with_a_stale_if_match_is_refused_with_412_and_changes_nothing(
    auth_client, second_client, book, method
):
    stale = _etag_of(auth_client, book)
    second_client.patch(_url(book), {"author": "Someone Else"}, format="json")
    before = _stored(book)

    response = _write(auth_client, method, book, **{"If-Match": stale})

    _assert_precondition_failed(response, book, before)
    assert before["author"] == "Someone Else"
    assert before["version"] == 2


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_write_with_the_current_if_match_succeeds(auth_client, book, method):
    etag = _etag_of(auth_client, book)

    response = _write(auth_client, method, book, **{"If-Match": etag})

    _assert_write_succeeded(response, method, book, version_before=1)


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_if_match_list_naming_the_current_etag_succeeds(auth_client, book, method):
    etag = _etag_of(auth_client, book)

    response = _write(auth_client, method, book, **{"If-Match": f'"0-0", {etag}, "9-9"'})

    _assert_write_succeeded(response, method, book, version_before=1)


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_if_match_star_matches_any_version_of_an_existing_book(auth_client, book, method):
    auth_client.patch(_url(book), {"title": "Second Edition"}, format="json")

    response = _write(auth_client, method, book, **{"If-Match": "*"})

    _assert_write_succeeded(response, method, book, version_before=2)


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_weak_form_of_the_current_etag_never_matches_if_match(auth_client, book, method):
    etag = _etag_of(auth_client, book)
    before = _stored(book)

    response = _write(auth_client, method, book, **{"If-Match": f"W/{etag}"})

    _assert_precondition_failed(response, book, before)


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize(
    "header",
    ["garbage", "{pk}-1", '"{pk}-1', "", '"0-0", W/"{pk}-1"'],
    ids=["garbage", "unquoted-current", "unterminated", "empty", "others-and-weak"],
)
def test_if_match_not_naming_the_current_strong_etag_is_refused(auth_client, book, method, header):
    before = _stored(book)

    response = _write(auth_client, method, book, **{"If-Match": header.format(pk=book.pk)})

    _assert_precondition_failed(response, book, before)


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize("header", ["*", '"{pk}-1"'], ids=["star", "tag"])
def test_if_match_on_an_unknown_book_is_404_not_412(auth_client, book, method, header):
    missing = BookFactory.build(pk=book.pk + 1000)
    before = _stored(book)

    response = _write(auth_client, method, missing, **{"If-Match": header.format(pk=missing.pk)})

    assert response.status_code == 404, response.content
    assert _stored(book) == before


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize("current", [True, False], ids=["current-tag", "stale-tag"])
def test_anonymous_write_with_if_match_is_401_before_the_precondition(
    api_client, book, method, current
):
    etag = etag_for(book.pk, 1) if current else etag_for(book.pk, 7)
    before = _stored(book)

    response = _write(api_client, method, book, **{"If-Match": etag})

    assert response.status_code == 401, response.content
    assert "WWW-Authenticate" in response
    assert _stored(book) == before


@pytest.mark.parametrize(
    ("method", "body"),
    [("put", {"title": "Only a title"}), ("patch", {"isbn": "not-an-isbn"})],
)
def test_invalid_body_with_a_stale_if_match_is_400_and_changes_nothing(
    auth_client, book, method, body
):
    # Validation runs before the precondition: a client gets its 400 first, then the 412.
    before = _stored(book)

    response = getattr(auth_client, method)(
        _url(book), body, format="json", headers={"If-Match": etag_for(book.pk, 7)}
    )

    assert response.status_code == 400, response.content
    assert _stored(book) == before


def test_chained_writes_with_each_responses_etag_all_succeed(auth_client, book):
    etag = _etag_of(auth_client, book)
    for number in range(1, 4):
        response = auth_client.patch(
            _url(book), {"title": f"Edition {number}"}, format="json", headers={"If-Match": etag}
        )
        assert response.status_code == 200, response.content
        etag = response["ETag"]

    assert _version(book) == 4
    assert Book.objects.get(pk=book.pk).title == "Edition 3"


# --- The lost-update race ---------------------------------------------------------------


def _racing_patches(token: str, book: Book, etag: str) -> Callable[[int], Any]:
    """Racer ``index``'s PATCH of ``book`` on ``etag``, from a client of its own."""

    def patch(index: int) -> Any:
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client.patch(
            _url(book), {"title": f"Racer {index}"}, format="json", headers={"If-Match": etag}
        )

    return patch


def test_of_two_clients_patching_the_version_they_both_read_the_second_gets_412(
    auth_client, second_client, book
):
    first_copy = _etag_of(auth_client, book)
    second_copy = _etag_of(second_client, book)
    assert first_copy == second_copy

    first = auth_client.patch(
        _url(book), {"title": "First"}, format="json", headers={"If-Match": first_copy}
    )
    second = second_client.patch(
        _url(book), {"title": "Second"}, format="json", headers={"If-Match": second_copy}
    )

    assert first.status_code == 200, first.content
    assert second.status_code == 412, second.content
    stored = Book.objects.get(pk=book.pk)
    assert (stored.title, stored.version) == ("First", 2)
    assert first["ETag"] == _etag_of(auth_client, book)


def test_delete_on_the_version_another_client_has_since_patched_is_refused(
    auth_client, second_client, book
):
    etag = _etag_of(auth_client, book)
    second_client.patch(_url(book), {"title": "Changed"}, format="json", headers={"If-Match": etag})

    response = auth_client.delete(_url(book), headers={"If-Match": etag})

    assert response.status_code == 412, response.content
    assert Book.objects.get(pk=book.pk).title == "Changed"


@pytest.mark.django_db(transaction=True)
def test_concurrent_patches_with_one_if_match_let_exactly_one_through(token):
    book = BookFactory()
    etag = _etag_of(APIClient(), book)

    responses = run_together(RACERS, _racing_patches(token, book, etag))

    for response in responses:
        assert not isinstance(response, BaseException), repr(response)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [412] * (RACERS - 1), [r.content for r in responses]
    (winner,) = [response for response in responses if response.status_code == 200]
    stored = Book.objects.get(pk=book.pk)
    assert stored.version == 2
    assert stored.title == winner.json()["title"]
    assert winner["ETag"] == etag_for(book.pk, 2)


@pytest.mark.django_db(transaction=True)
def test_patches_that_all_passed_the_if_match_check_still_let_exactly_one_through(
    token, monkeypatch
):
    # The worst interleaving, forced: every request has read the book and compared its
    # If-Match before any of them writes. Only the service's locked compare can stop them.
    book = BookFactory()
    etag = _etag_of(APIClient(), book)
    all_checked = threading.Barrier(RACERS)
    real_book_update = services.book_update

    def book_update_when_all_have_checked(**kwargs: Any) -> Book:
        with contextlib.suppress(threading.BrokenBarrierError):
            all_checked.wait(timeout=30)  # a design that locks earlier just runs in turn
        return real_book_update(**kwargs)

    monkeypatch.setattr(services, "book_update", book_update_when_all_have_checked)

    responses = run_together(RACERS, _racing_patches(token, book, etag))

    statuses = sorted(getattr(response, "status_code", response) for response in responses)
    assert statuses == [200] + [412] * (RACERS - 1), responses
    (winner,) = [response for response in responses if response.status_code == 200]
    stored = Book.objects.get(pk=book.pk)
    assert (stored.title, stored.version) == (winner.json()["title"], 2)


@pytest.mark.django_db(transaction=True)
def test_concurrent_service_updates_of_one_version_let_exactly_one_through():
    book = BookFactory()

    def update(index: int) -> Book:
        return services.book_update(book=book, expected_version=1, title=f"Racer {index}")

    results = run_together(RACERS, update)

    winners = [result for result in results if isinstance(result, Book)]
    losers = [result for result in results if not isinstance(result, Book)]
    assert len(winners) == 1, results
    assert all(isinstance(loser, services.VersionConflict) for loser in losers), losers
    stored = Book.objects.get(pk=book.pk)
    assert (stored.title, stored.version) == (winners[0].title, 2)


# --- The services ---------------------------------------------------------------------


@pytest.mark.django_db
def test_book_update_with_a_wrong_expected_version_raises_and_changes_nothing(book):
    before = _stored(book)

    with pytest.raises(services.VersionConflict) as excinfo:
        services.book_update(book=book, expected_version=2, title="Lost Update")

    assert _stored(book) == before
    assert excinfo.value.current is not None
    assert (excinfo.value.current.pk, excinfo.value.current.version) == (book.pk, 1)


@pytest.mark.django_db
def test_book_update_with_the_expected_version_bumps_it_by_one(book):
    updated = services.book_update(book=book, expected_version=1, title="New Title")

    stored = Book.objects.get(pk=book.pk)
    assert (stored.title, stored.version) == ("New Title", 2)
    assert updated.version == 2


@pytest.mark.django_db
def test_book_update_compares_with_the_stored_version_not_the_callers_copy(book):
    stale_copy = Book.objects.get(pk=book.pk)
    services.book_update(book=book, title="Someone Else's Edit")

    with pytest.raises(services.VersionConflict):
        services.book_update(
            book=stale_copy, expected_version=stale_copy.version, title="Lost Update"
        )

    stored = Book.objects.get(pk=book.pk)
    assert (stored.title, stored.version) == ("Someone Else's Edit", 2)


@pytest.mark.django_db
def test_book_update_without_expected_version_still_bumps_it(book):
    services.book_update(book=book, title="Once")
    services.book_update(book=book, title="Twice")

    assert _version(book) == 3


@pytest.mark.django_db
def test_book_delete_with_a_wrong_expected_version_raises_and_keeps_the_book(book):
    before = _stored(book)

    with pytest.raises(services.VersionConflict):
        services.book_delete(book=book, expected_version=2)

    assert _stored(book) == before


@pytest.mark.django_db
def test_book_delete_with_the_expected_version_deletes(book):
    services.book_delete(book=book, expected_version=1)

    assert not Book.objects.filter(pk=book.pk).exists()


@pytest.mark.django_db
def test_admin_edit_bumps_the_version_so_api_clients_copies_go_stale(auth_client, book):
    admin = get_user_model().objects.create_superuser(
        username="editor", email="editor@example.com", password="a-long-admin-password-1"
    )
    staff_client = Client()
    staff_client.force_login(admin)
    etag = _etag_of(auth_client, book)
    form = {
        "title": "Edited In Admin",
        "author": book.author,
        "publication_date": book.publication_date.isoformat(),
        "publication_date_precision": book.publication_date_precision,
        "isbn": book.isbn,
        "summary": book.summary,
        "_save": "Save",
    }

    response = staff_client.post(f"/admin/books/book/{book.pk}/change/", form)

    assert response.status_code == 302, response.content[:500]
    stored = Book.objects.get(pk=book.pk)
    assert (stored.title, stored.version) == ("Edited In Admin", 2)
    stale_write = auth_client.patch(
        _url(book), {"title": "Lost Update"}, format="json", headers={"If-Match": etag}
    )
    assert stale_write.status_code == 412


# --- The OpenAPI schema -------------------------------------------------------------------


@pytest.fixture
def book_detail_operations(api_client: APIClient, db: None) -> dict[str, Any]:
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200, response.content
    return dict(json.loads(response.content)["paths"]["/books/{id}/"])


def _header_parameters(operation: dict[str, Any]) -> set[str]:
    return {
        parameter["name"]
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "header"
    }


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_schema_documents_if_match_and_412_on_writes_of_a_book(book_detail_operations, method):
    operation = book_detail_operations[method]

    assert "If-Match" in _header_parameters(operation)
    assert "If-None-Match" not in _header_parameters(operation)
    assert "412" in operation["responses"]


def test_schema_documents_if_none_match_304_and_etag_on_get_of_a_book(book_detail_operations):
    operation = book_detail_operations["get"]

    assert "If-None-Match" in _header_parameters(operation)
    assert "If-Match" not in _header_parameters(operation)
    assert "304" in operation["responses"]
    assert "412" not in operation["responses"]
    assert "ETag" in operation["responses"]["200"].get("headers", {})
    assert "ETag" in operation["responses"]["304"].get("headers", {})


@pytest.mark.parametrize("method", ["put", "patch"])
def test_schema_documents_the_etag_answered_by_put_and_patch(book_detail_operations, method):
    assert "ETag" in book_detail_operations[method]["responses"]["200"].get("headers", {})
