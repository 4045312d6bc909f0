"""Safe retries: a POST with an Idempotency-Key takes effect once and is replayed after that.

Driven through POST /books/ (single and bulk) and the real database, so the rules hold on
SQLite and PostgreSQL alike; core.idempotency holds them.
"""

import datetime
import io
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone
from rest_framework.exceptions import APIException, Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from books import services
from books.demo import demo_isbn
from books.models import Book
from books.permissions import give_role
from books.services import DUPLICATE_ISBN_MESSAGE
from books.tests.concurrency import run_together
from books.tests.factories import CANONICAL_ISBN, BookFactory, book_payload
from core.idempotency import idempotent, request_fingerprint
from core.models import IdempotencyRecord

URL = "/books/"
JSON = "application/json"
KEY = "6f1c2a9e-8d4b-4c7a-b3e5-0a9d8c7b6e5f"
REPLAYED = "Idempotent-Replayed"


def post(client: APIClient, body: Any, key: str | None = KEY) -> Any:
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post(URL, body, format="json", headers=headers)


def assert_replay_of(first: Any, retry: Any) -> None:
    """``retry`` is ``first`` again, byte for byte, and says it is a replay."""
    assert retry.status_code == first.status_code, retry.content
    assert retry.content == first.content
    for header in ("Location", "ETag"):
        assert retry.headers.get(header) == first.headers.get(header), header
    assert retry[REPLAYED] == "true"
    assert REPLAYED not in first


def assert_detail(response: Any, status: int) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == JSON
    body = response.json()
    assert list(body) == ["detail"], body
    return str(body["detail"])


def age_records(*, hours: float) -> None:
    """Make every stored record ``hours`` old, as if the clock had moved on."""
    IdempotencyRecord.objects.update(created_at=timezone.now() - datetime.timedelta(hours=hours))


def client_for(user: Any) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user=user)
    return client


# --- a retry replays the first response ------------------------------------------------


@pytest.mark.django_db
def test_a_retry_with_the_same_key_and_body_replays_the_first_response(auth_client):
    first = post(auth_client, book_payload())
    retry = post(auth_client, book_payload())

    assert first.status_code == 201, first.content
    assert first["Location"].endswith(f"/books/{first.json()['id']}/")
    assert first["ETag"]
    assert_replay_of(first, retry)
    assert Book.objects.count() == 1


@pytest.mark.django_db
def test_every_later_retry_replays_the_first_response_too(auth_client):
    first = post(auth_client, book_payload())

    retries = [post(auth_client, book_payload()) for _ in range(3)]

    for retry in retries:
        assert_replay_of(first, retry)
    assert Book.objects.count() == 1


@pytest.mark.django_db
def test_a_retry_matches_whatever_its_json_key_order_and_whitespace(auth_client):
    payload = book_payload()
    first = post(auth_client, payload)

    reordered = json.dumps(dict(reversed(list(payload.items()))), indent=4)
    retry = auth_client.post(URL, reordered, content_type=JSON, headers={"Idempotency-Key": KEY})

    assert_replay_of(first, retry)
    assert Book.objects.count() == 1


@pytest.mark.django_db
def test_a_bulk_create_is_replayed_whole(auth_client):
    items = [book_payload(title=f"Book {n}", isbn=demo_isbn(n)) for n in range(3)]

    first = post(auth_client, items)
    retry = post(auth_client, items)

    assert first.status_code == 201, first.content
    assert len(first.json()) == 3
    assert_replay_of(first, retry)
    assert Book.objects.count() == 3


@pytest.mark.django_db
def test_a_replay_is_the_first_response_even_after_the_book_changed(auth_client):
    first = post(auth_client, book_payload(title="Original"))
    book_url = first["Location"]
    changed = auth_client.patch(book_url, {"title": "Changed"}, format="json")

    retry = post(auth_client, book_payload(title="Original"))

    assert changed.status_code == 200, changed.content
    assert_replay_of(first, retry)
    assert retry.json()["title"] == "Original"


@pytest.mark.django_db
def test_without_a_key_a_retry_is_a_new_request(auth_client):
    first = post(auth_client, book_payload(), key=None)
    retry = post(auth_client, book_payload(), key=None)

    assert first.status_code == 201, first.content
    # Processed again: the ISBN is now taken.
    assert retry.status_code == 400, retry.content
    assert retry.json() == {"isbn": [DUPLICATE_ISBN_MESSAGE]}
    assert REPLAYED not in retry
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_anonymous_requests_are_refused_before_any_key_is_stored(api_client):
    response = post(api_client, book_payload())

    assert response.status_code == 401, response.content
    assert not IdempotencyRecord.objects.exists()
    assert not Book.objects.exists()


# --- a key belongs to one request of one user ------------------------------------------


@pytest.mark.django_db
def test_the_same_key_with_a_different_body_is_a_422_and_creates_nothing(auth_client):
    first = post(auth_client, book_payload())

    other = post(auth_client, book_payload(title="Another title"))
    retry = post(auth_client, book_payload())

    assert "different request body" in assert_detail(other, 422)
    assert REPLAYED not in other
    assert Book.objects.count() == 1
    assert_replay_of(first, retry)  # the misuse did not overwrite the key's outcome


class ElsewhereView(APIView):
    """A second endpoint that honours Idempotency-Key, to reuse a key on another path."""

    @idempotent
    def post(self, request: Request) -> Response:
        return Response({"elsewhere": True}, status=201)


@pytest.mark.django_db
def test_the_same_key_on_another_path_is_a_422(auth_client, user):
    request = APIRequestFactory().post(
        "/elsewhere/", book_payload(), format="json", headers={"Idempotency-Key": KEY}
    )
    force_authenticate(request, user=user)
    elsewhere = ElsewhereView.as_view()(request)

    response = post(auth_client, book_payload())

    assert elsewhere.status_code == 201
    assert "already used for POST /elsewhere/" in assert_detail(response, 422)
    assert not Book.objects.exists()


@pytest.mark.django_db
def test_keys_are_scoped_per_user(auth_client):
    other_user = get_user_model().objects.create_user(username="other-writer")
    give_role(other_user, "editor")
    other_client = client_for(other_user)
    first = post(auth_client, book_payload())

    others = post(other_client, book_payload(isbn=demo_isbn(7)))
    others_retry = post(other_client, book_payload(isbn=demo_isbn(7)))

    assert first.status_code == 201, first.content
    assert others.status_code == 201, others.content
    assert REPLAYED not in others
    assert others.json()["id"] != first.json()["id"]
    assert_replay_of(others, others_retry)
    assert Book.objects.count() == 2
    assert IdempotencyRecord.objects.filter(key=KEY).count() == 2


# --- what a key may be -----------------------------------------------------------------

INVALID_KEYS = {
    "empty": "",
    "too-long": "k" * 256,
    "tab": "tab\tkey",
    "newline": "line\nbreak",
    "nul": "nul\x00key",
    "delete": "del\x7fkey",
    "non-ascii": "caf\u00e9",
}


@pytest.mark.django_db
@pytest.mark.parametrize("key", INVALID_KEYS.values(), ids=INVALID_KEYS.keys())
def test_an_invalid_key_is_a_400_and_nothing_is_stored(auth_client, key):
    response = post(auth_client, book_payload(), key=key)

    assert "Idempotency-Key" in assert_detail(response, 400)
    assert not Book.objects.exists()
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_a_key_of_255_printable_ascii_characters_is_accepted(auth_client):
    printable = "".join(chr(code) for code in range(0x20, 0x7F))
    key = (printable * 3)[:255]

    first = post(auth_client, book_payload(), key=key)
    retry = post(auth_client, book_payload(), key=key)

    assert first.status_code == 201, first.content
    assert_replay_of(first, retry)
    assert IdempotencyRecord.objects.get().key == key


# --- which outcomes are kept -----------------------------------------------------------


@pytest.mark.django_db
def test_an_invalid_request_is_replayed_with_its_400(auth_client):
    first = post(auth_client, book_payload(isbn="nope"))
    retry = post(auth_client, book_payload(isbn="nope"))

    assert first.status_code == 400, first.content
    assert "isbn" in first.json()
    assert_replay_of(first, retry)
    assert not Book.objects.exists()


@pytest.mark.django_db
def test_a_refusal_stays_the_answer_to_its_key_after_the_cause_is_gone(auth_client):
    existing = BookFactory(isbn=CANONICAL_ISBN)
    first = post(auth_client, book_payload())
    existing.delete()

    retry = post(auth_client, book_payload())

    assert first.json() == {"isbn": [DUPLICATE_ISBN_MESSAGE]}
    assert_replay_of(first, retry)
    assert not Book.objects.exists()


FAILURES = {
    "unexpected-exception": (RuntimeError("the disk is full"), 500),
    "api-error-500": (APIException(), 500),
    "throttled": (Throttled(wait=1), 429),
}


@pytest.mark.django_db
@pytest.mark.parametrize(("failure", "status"), FAILURES.values(), ids=FAILURES.keys())
def test_a_failure_keeps_nothing_so_the_retry_runs_anew(auth_client, monkeypatch, failure, status):
    real_book_create = services.book_create

    def create_then_fail(**fields: Any) -> Book:
        real_book_create(**fields)  # the write happens, then the request fails
        raise failure

    monkeypatch.setattr(services, "book_create", create_then_fail)
    failed = post(auth_client, book_payload())
    monkeypatch.setattr(services, "book_create", real_book_create)
    retry = post(auth_client, book_payload())

    assert failed.status_code == status, failed.content
    # The failed request's write was rolled back together with its key.
    assert retry.status_code == 201, retry.content
    assert REPLAYED not in retry
    assert Book.objects.count() == 1
    assert IdempotencyRecord.objects.get().status_code == 201


# --- durable, for the TTL --------------------------------------------------------------


@pytest.mark.django_db
def test_the_outcome_is_stored_in_the_database_and_survives_a_restart(auth_client, user):
    payload = book_payload()
    first = post(auth_client, payload)

    record = IdempotencyRecord.objects.get()
    # A restarted server has empty caches and new clients; only the database remains.
    cache.clear()
    retry = post(client_for(user), payload)

    assert (record.user_id, record.key, record.method, record.path) == (user.pk, KEY, "POST", URL)
    assert record.request_fingerprint == request_fingerprint(payload)
    assert record.status_code == 201
    assert json.loads(record.response_body) == first.json()
    assert record.response_headers == {"Location": first["Location"], "ETag": first["ETag"]}
    assert_replay_of(first, retry)
    assert Book.objects.count() == 1


@pytest.mark.django_db
def test_a_key_is_replayed_for_at_least_24_hours(auth_client):
    first = post(auth_client, book_payload())
    age_records(hours=23.9)

    retry = post(auth_client, book_payload())

    assert_replay_of(first, retry)


@pytest.mark.django_db
def test_an_expired_key_is_processed_anew(auth_client):
    first = post(auth_client, book_payload())
    Book.objects.all().delete()
    age_records(hours=24.1)

    retry = post(auth_client, book_payload())

    assert retry.status_code == 201, retry.content
    assert REPLAYED not in retry
    assert retry.json()["id"] != first.json()["id"]
    record = IdempotencyRecord.objects.get()  # replaced, not added
    assert json.loads(record.response_body)["id"] == retry.json()["id"]
    assert timezone.now() - record.created_at < datetime.timedelta(hours=1)


@pytest.mark.django_db
def test_an_expired_key_may_be_used_with_another_body(auth_client):
    post(auth_client, book_payload())
    age_records(hours=25)

    response = post(auth_client, book_payload(isbn=demo_isbn(3)))

    assert response.status_code == 201, response.content
    assert Book.objects.count() == 2


@pytest.mark.django_db
def test_the_ttl_is_the_idempotency_key_ttl_hours_setting(auth_client, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 48
    first = post(auth_client, book_payload())
    age_records(hours=47)

    replayed = post(auth_client, book_payload())
    age_records(hours=49)
    Book.objects.all().delete()
    anew = post(auth_client, book_payload())

    assert_replay_of(first, replayed)
    assert anew.status_code == 201, anew.content
    assert REPLAYED not in anew


@pytest.mark.django_db
def test_purge_idempotency_keys_deletes_only_expired_records(user):
    now = timezone.now()
    for hours in (0, 23, 25, 100):
        IdempotencyRecord.objects.create(
            user=user,
            key=f"aged-{hours}h",
            method="POST",
            path=URL,
            request_fingerprint=request_fingerprint({}),
            status_code=201,
            response_body="{}",
            created_at=now - datetime.timedelta(hours=hours),
        )
    output = io.StringIO()

    call_command("purge_idempotency_keys", stdout=output)

    assert output.getvalue().strip() == "Deleted 2 expired idempotency record(s)."
    remaining = set(IdempotencyRecord.objects.values_list("key", flat=True))
    assert remaining == {"aged-0h", "aged-23h"}


def test_the_fingerprint_ignores_key_order_but_not_list_order():
    first, second = {"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}

    assert request_fingerprint(first) == request_fingerprint(second)
    assert request_fingerprint(first) != request_fingerprint({"a": 1, "b": [2, 1]})
    assert request_fingerprint([first, {}]) != request_fingerprint([{}, first])


# --- concurrent requests with one key --------------------------------------------------

RACERS = 20
BODIES = {
    "single": book_payload(),
    "bulk": [book_payload(title=f"Book {n}", isbn=demo_isbn(n)) for n in range(3)],
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_concurrent_requests_with_one_key_take_effect_exactly_once(token, body):
    def send(_: int) -> Any:
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return post(client, body)

    outcomes = run_together(RACERS, send)

    for outcome in outcomes:
        assert not isinstance(outcome, BaseException), repr(outcome)
    assert [outcome.status_code for outcome in outcomes] == [201] * RACERS, [
        outcome.content[:200] for outcome in outcomes
    ]
    assert len({outcome.content for outcome in outcomes}) == 1
    assert sum(REPLAYED not in outcome for outcome in outcomes) == 1
    assert Book.objects.count() == (len(body) if isinstance(body, list) else 1)
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_and_two_bodies_create_one_book(token):
    bodies = [book_payload(title="Even"), book_payload(title="Odd", isbn=demo_isbn(9))]

    def send(index: int) -> Any:
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return post(client, bodies[index % 2])

    outcomes = run_together(RACERS, send)

    for outcome in outcomes:
        assert not isinstance(outcome, BaseException), repr(outcome)
    by_body = [{outcome.status_code for outcome in outcomes[parity::2]} for parity in (0, 1)]
    # Whichever body won, all its senders got the one 201 and the others a 422.
    assert sorted(by_body, key=sorted) == [{201}, {422}], by_body
    (book,) = Book.objects.all()
    winner = by_body.index({201})
    assert book.title == bodies[winner]["title"]
    assert len({outcome.content for outcome in outcomes[winner::2]}) == 1


# --- the OpenAPI description -----------------------------------------------------------


@pytest.fixture
def schema(api_client: APIClient, db: None) -> dict[str, Any]:
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200, response.content
    return dict(json.loads(response.content))


def test_the_schema_documents_the_key_and_the_422_on_create_only(schema):
    create = schema["paths"]["/books/"]["post"]
    update = schema["paths"]["/books/{id}/"]["put"]

    (parameter,) = [p for p in create["parameters"] if p["name"] == "Idempotency-Key"]
    assert parameter["in"] == "header"
    assert not parameter.get("required", False)
    assert parameter["schema"]["pattern"] == "^[ -~]{1,255}$"
    assert "422" in parameter["description"]
    assert create["responses"]["422"]["content"][JSON]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "Idempotency-Key" not in {p["name"] for p in update.get("parameters", [])}
    assert "422" not in update["responses"]


@pytest.mark.django_db
def test_a_real_422_has_the_documented_error_shape(schema, auth_client):
    post(auth_client, book_payload())

    response = post(auth_client, book_payload(title="Different"))

    assert_detail(response, 422)
    error = schema["components"]["schemas"]["Error"]
    assert set(response.json()) == set(error["required"]) == set(error["properties"])
