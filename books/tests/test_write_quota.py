"""A user's writes a day are capped beside the request rate (issue 13, finding 6):
WRITE_QUOTA_PER_DAY books written, a bulk create counting each of its books."""

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from books.permissions import EDITORS
from books.tests.factories import BookFactory, book_payload


def _new_book() -> dict[str, object]:
    return book_payload(isbn=BookFactory.build().isbn)


pytestmark = pytest.mark.django_db


@pytest.fixture
def three_writes_a_day(settings: Any) -> None:
    settings.WRITE_QUOTA_PER_DAY = 3


@pytest.mark.usefixtures("three_writes_a_day")
def test_writes_over_the_daily_quota_get_429_and_reads_do_not_count(
    auth_client: APIClient,
) -> None:
    book = BookFactory()
    for _ in range(5):
        assert auth_client.get("/books/").status_code == 200
    assert auth_client.post("/books/", _new_book(), format="json").status_code == 201
    assert auth_client.patch(f"/books/{book.pk}/", {"title": "x"}, format="json").status_code == 200
    assert auth_client.delete(f"/books/{book.pk}/").status_code == 204

    refused = auth_client.post("/books/", _new_book(), format="json")

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert auth_client.get("/books/").status_code == 200


@pytest.mark.usefixtures("three_writes_a_day")
def test_a_bulk_create_counts_each_book(auth_client: APIClient) -> None:
    batch = [_new_book(), _new_book()]
    assert auth_client.post("/books/", batch, format="json").status_code == 201
    too_many = [_new_book(), _new_book()]

    assert auth_client.post("/books/", too_many, format="json").status_code == 429


def test_the_quota_is_per_user(settings: Any, auth_client: APIClient) -> None:
    settings.WRITE_QUOTA_PER_DAY = 1
    other = get_user_model().objects.create_user(username="other-editor")
    other.groups.add(Group.objects.get(name=EDITORS))
    other_client = APIClient(raise_request_exception=False)
    other_client.force_authenticate(other)

    assert auth_client.post("/books/", _new_book(), format="json").status_code == 201
    assert auth_client.post("/books/", _new_book(), format="json").status_code == 429
    assert other_client.post("/books/", _new_book(), format="json").status_code == 201
