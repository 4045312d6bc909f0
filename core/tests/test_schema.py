"""The OpenAPI description: valid, complete, and true to what the API really does."""

import json
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import OperationalError
from django.test import Client
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema
from jsonschema import Draft7Validator
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from books import selectors
from books.demo import demo_isbn
from books.models import Book
from books.tests.factories import BookFactory, book_payload

JSON = "application/json"
WRITE_METHODS = ("post", "put", "patch", "delete")
LIST_QUERY_PARAMETERS = {
    "format",
    "author_name",
    "cursor",
    "page_size",
    "ordering",
    "author",
    "isbn",
    "published_after",
    "published_before",
    "search",
}
ORDERINGS = {
    "title",
    "-title",
    "author",
    "-author",
    "publication_date",
    "-publication_date",
    "created_at",
    "-created_at",
}


@pytest.fixture
def schema(api_client: APIClient, db: None) -> dict[str, Any]:
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200, response.content
    assert "json" in response["Content-Type"]
    return dict(json.loads(response.content))


def operation(schema: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return dict(schema["paths"][path][method])


def response_ref(op: dict[str, Any], code: str) -> str:
    assert code in op["responses"], f"{code} is not documented: {sorted(op['responses'])}"
    return str(op["responses"][code]["content"][JSON]["schema"]["$ref"])


def _as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects as JSON Schema: `nullable: true` becomes `null` allowed."""
    if isinstance(node, dict):
        converted = {key: _as_json_schema(value) for key, value in node.items()}
        if converted.pop("nullable", False):
            return {"anyOf": [converted, {"type": "null"}]}
        return converted
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    return node


def assert_matches(schema: dict[str, Any], ref: str, instance: Any) -> None:
    """``instance`` is valid against the component ``ref`` of the OpenAPI document."""
    document = {"allOf": [{"$ref": ref}], "components": _as_json_schema(schema["components"])}
    validator = Draft7Validator(document, format_checker=Draft7Validator.FORMAT_CHECKER)
    errors = [error.message for error in validator.iter_errors(instance)]
    assert not errors, f"{instance!r} does not match {ref}: {errors}"


# --- a valid OpenAPI 3 document -------------------------------------------------------


def test_schema_is_a_valid_openapi_3_document(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Bookstore API"
    validate_schema(schema)  # raises jsonschema.ValidationError if it is not


def test_schema_documents_every_route_of_the_api(schema: dict[str, Any]) -> None:
    assert set(schema["paths"]) >= {"/books/", "/books/{id}/", "/auth/token/"}
    assert set(schema["paths"]["/books/"]) == {"get", "post"}
    assert set(schema["paths"]["/books/{id}/"]) == {"get", "put", "patch", "delete"}
    assert set(schema["paths"]["/auth/token/"]) == {"post"}


def test_spectacular_command_validates_without_warnings(tmp_path: Path) -> None:
    # What `python manage.py spectacular --validate --fail-on-warn` checks in CI. The
    # warning counter is process-wide: start from zero so only this generation counts.
    GENERATOR_STATS.reset()
    target = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    assert not GENERATOR_STATS, "drf-spectacular emitted warnings or errors"
    assert target.read_text().startswith("openapi: 3.0.3")


# --- the book list: pagination and query parameters -----------------------------------


def test_schema_documents_the_pagination_envelope(schema: dict[str, Any]) -> None:
    ref = response_ref(operation(schema, "/books/", "get"), "200")
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]

    assert set(page["required"]) == {"next", "previous", "results"}
    # "search" is there only for a searched list.
    assert set(page["properties"]) == {"next", "previous", "results", "search"}
    search = page["properties"]["search"]
    assert set(search["required"]) == {"words", "isbns", "similar", "did_you_mean"}
    assert search["properties"]["similar"]["type"] == "boolean"
    for link in ("next", "previous"):
        assert page["properties"][link]["type"] == "string"
        assert page["properties"][link]["nullable"] is True
    assert page["properties"]["results"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Book"},
    }


def test_schema_documents_the_list_query_parameters(schema: dict[str, Any]) -> None:
    parameters = {
        p["name"]: p
        for p in operation(schema, "/books/", "get")["parameters"]
        if p["in"] == "query"
    }

    assert set(parameters) == LIST_QUERY_PARAMETERS
    assert not any(p.get("required") for p in parameters.values())
    assert parameters["ordering"]["schema"]["type"] == "string"
    assert len(parameters["ordering"]["schema"]["enum"]) == 9
    assert set(parameters["ordering"]["schema"]["enum"]) == ORDERINGS | {"relevance"}
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1}
    assert parameters["published_after"]["schema"] == {"type": "string", "format": "date"}
    assert parameters["published_before"]["schema"] == {"type": "string", "format": "date"}
    for name in ("cursor", "author", "author_name", "isbn", "search"):
        assert parameters[name]["schema"]["type"] == "string"


@pytest.mark.django_db
@pytest.mark.parametrize("ordering", sorted(ORDERINGS))
def test_every_documented_ordering_is_accepted(api_client: APIClient, ordering: str) -> None:
    BookFactory.create_batch(2)

    response = api_client.get(f"/books/?ordering={ordering}")

    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("ordering", ["id", "summary", "--title", "title,author", ""])
def test_an_undocumented_ordering_is_refused(api_client: APIClient, ordering: str) -> None:
    response = api_client.get(f"/books/?ordering={ordering}")

    assert response.status_code == 400
    assert list(response.json()) == ["ordering"]


# --- security: a token scheme, required for writes ------------------------------------


def token_scheme_name(schema: dict[str, Any]) -> str:
    schemes = schema["components"]["securitySchemes"]
    names = [
        name
        for name, scheme in schemes.items()
        if scheme["type"] == "apiKey"
        and scheme["in"] == "header"
        and scheme["name"] == "Authorization"
    ]
    assert len(names) == 1, schemes
    return names[0]


def test_schema_documents_the_token_security_scheme(schema: dict[str, Any]) -> None:
    name = token_scheme_name(schema)

    assert "Token" in schema["components"]["securitySchemes"][name]["description"]


def test_schema_requires_credentials_for_every_book_write(schema: dict[str, Any]) -> None:
    token = token_scheme_name(schema)
    writes = [
        (path, method, op)
        for path, ops in schema["paths"].items()
        if path.startswith("/books/")
        for method, op in ops.items()
        if method in WRITE_METHODS
    ]

    assert len(writes) == 4
    for path, method, op in writes:
        security = op.get("security")
        assert security, f"{method.upper()} {path} documents no security requirement"
        assert {} not in security, f"{method.upper()} {path} is documented as anonymous"
        assert {token: []} in security, f"{method.upper()} {path} does not accept the token"


def test_schema_documents_book_reads_as_public(schema: dict[str, Any]) -> None:
    for path in ("/books/", "/books/{id}/"):
        assert {} in operation(schema, path, "get")["security"]


# --- errors -----------------------------------------------------------------------------

DOCUMENTED_ERRORS = [
    ("/books/", "post", "400", "ValidationError"),
    ("/books/", "get", "400", "ValidationError"),
    ("/books/{id}/", "put", "400", "ValidationError"),
    ("/books/{id}/", "patch", "400", "ValidationError"),
    *[("/books/", m, "401", "Error") for m in ("post",)],
    *[("/books/{id}/", m, "401", "Error") for m in ("put", "patch", "delete")],
    *[("/books/{id}/", m, "404", "Error") for m in ("get", "put", "patch", "delete")],
    *[(p, m, c, "Error") for p, m in [("/books/", "post")] for c in ("413", "415")],
    *[("/books/{id}/", m, c, "Error") for m in ("put", "patch") for c in ("413", "415")],
    ("/auth/token/", "post", "400", "ValidationError"),
    ("/auth/token/", "post", "415", "Error"),
]


@pytest.mark.parametrize(
    ("path", "method", "code", "component"),
    DOCUMENTED_ERRORS,
    ids=[f"{m.upper()} {p} {c}" for p, m, c, _ in DOCUMENTED_ERRORS],
)
def test_schema_documents_the_error_response(
    schema: dict[str, Any], path: str, method: str, code: str, component: str
) -> None:
    op = operation(schema, path, method)

    assert response_ref(op, code) == f"#/components/schemas/{component}"
    assert op["responses"][code]["description"]


def test_error_components_describe_drf_error_shapes(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]

    assert components["Error"]["required"] == ["detail"]
    assert components["Error"]["properties"] == {"detail": {"type": "string"}}
    assert components["ValidationError"]["type"] == "object"
    assert "additionalProperties" in components["ValidationError"]


def test_schema_documents_201_with_location_on_create(schema: dict[str, Any]) -> None:
    created = operation(schema, "/books/", "post")["responses"]["201"]

    assert created["content"][JSON]["schema"] == {"$ref": "#/components/schemas/BookOrBooks"}
    assert set(created["headers"]) >= {"Location", "ETag", "Idempotent-Replayed"}
    assert created["headers"]["Location"]["schema"] == {"type": "string", "format": "uri"}
    assert created["headers"]["Idempotent-Replayed"]["schema"] == {
        "type": "string",
        "enum": ["true"],
    }


@pytest.mark.parametrize(
    ("direction", "book", "batch", "one_or_many"),
    [
        ("request", "BookRequest", "BookBatchRequest", "BookOrBooksRequest"),
        ("response", "Book", "BookBatch", "BookOrBooks"),
    ],
)
def test_the_bulk_create_is_a_choice_of_two_named_schemas(
    schema: dict[str, Any], direction: str, book: str, batch: str, one_or_many: str
) -> None:
    # Named components, so a generated client has `BookRequest | list[BookRequest]` in and
    # `Book | list[Book]` out (test_generated_client.py), not anonymous inline unions.
    components = schema["components"]["schemas"]
    create = operation(schema, "/books/", "post")
    body = (
        create["requestBody"]["content"][JSON]["schema"]
        if direction == "request"
        else create["responses"]["201"]["content"][JSON]["schema"]
    )

    assert body == {"$ref": f"#/components/schemas/{one_or_many}"}
    assert components[one_or_many] == {
        "oneOf": [
            {"$ref": f"#/components/schemas/{book}"},
            {"$ref": f"#/components/schemas/{batch}"},
        ]
    }
    assert components[batch]["type"] == "array"
    assert components[batch]["items"] == {"$ref": f"#/components/schemas/{book}"}
    assert components[batch]["minItems"] == 1
    assert components[batch]["maxItems"] == django_settings.BULK_CREATE_MAX_ITEMS


def test_the_create_body_is_required(schema: dict[str, Any]) -> None:
    assert operation(schema, "/books/", "post")["requestBody"]["required"] is True


def test_schema_documents_the_token_endpoint(schema: dict[str, Any]) -> None:
    op = operation(schema, "/auth/token/", "post")

    # JSON only, like the endpoint; no credentials needed to sign in.
    assert set(op["requestBody"]["content"]) == {JSON}
    request_ref = op["requestBody"]["content"][JSON]["schema"]["$ref"]
    request = schema["components"]["schemas"][request_ref.rsplit("/", 1)[1]]
    assert set(request["required"]) == {"username", "password"}
    token_ref = response_ref(op, "200")
    token = schema["components"]["schemas"][token_ref.rsplit("/", 1)[1]]
    assert set(token["properties"]) == {"token", "expiry"}
    assert token["properties"]["token"]["type"] == "string"
    assert token["properties"]["expiry"]["format"] == "date-time"
    assert token["properties"]["expiry"]["nullable"] is True
    security = op.get("security")
    assert security is None or security == [] or {} in security, security


# --- what every operation may answer: limits, outages, faults, versions ----------------

RATELIMIT_HEADERS = {"RateLimit-Policy", "RateLimit"}
BOOK_OPERATIONS = {
    ("/books/", "get"),
    ("/books/", "post"),
    ("/books/{id}/", "get"),
    ("/books/{id}/", "put"),
    ("/books/{id}/", "patch"),
    ("/books/{id}/", "delete"),
}


def all_operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()
    ]


def test_the_schema_has_the_operations_these_checks_walk(schema: dict[str, Any]) -> None:
    documented = {(path, method) for path, method, _ in all_operations(schema)}

    assert documented >= BOOK_OPERATIONS | {("/auth/token/", "post")}


def test_every_operation_documents_the_500_and_the_503_with_retry_after(
    schema: dict[str, Any],
) -> None:
    for path, method, op in all_operations(schema):
        where = f"{method.upper()} {path}"
        assert response_ref(op, "500") == "#/components/schemas/Error", where
        assert response_ref(op, "503") == "#/components/schemas/Error", where
        retry_after = op["responses"]["503"]["headers"]["Retry-After"]
        assert retry_after["required"] is True, where
        assert retry_after["schema"]["type"] == "integer", where


def test_the_503_of_a_searching_operation_names_the_search_timeout(
    schema: dict[str, Any],
) -> None:
    searching = [
        (path, method, op)
        for path, method, op in all_operations(schema)
        if any(p["name"] == "search" for p in op.get("parameters", []))
    ]

    assert {path for path, _, _ in searching} >= {"/books/", "/books/export/"}
    for path, method, op in all_operations(schema):
        mentions = "search" in op["responses"]["503"]["description"]
        assert mentions == ((path, method, op) in searching), f"{method.upper()} {path}"


def test_every_throttled_operation_documents_the_429_and_the_ratelimit_fields(
    schema: dict[str, Any],
) -> None:
    # Every API view is throttled (DEFAULT_THROTTLE_CLASSES: per address or per user).
    for path, method, op in all_operations(schema):
        where = f"{method.upper()} {path}"
        throttled = op["responses"]["429"]
        assert response_ref(op, "429") == "#/components/schemas/Error", where
        assert set(throttled["headers"]) >= RATELIMIT_HEADERS | {"Retry-After"}, where
        assert throttled["headers"]["Retry-After"]["required"] is True, where
        successes = [code for code in op["responses"] if code.startswith("2")]
        assert successes, where
        for code in [*successes, *(["304"] if "304" in op["responses"] else [])]:
            headers = op["responses"][code].get("headers", {})
            assert set(headers) >= RATELIMIT_HEADERS, f"{where} {code}"
            for name in RATELIMIT_HEADERS:  # absent when the cache cannot count
                assert not headers[name].get("required"), f"{where} {code} {name}"


@pytest.mark.parametrize("path", ["/books/", "/books/{id}/"])
def test_reads_document_etag_if_none_match_and_304(schema: dict[str, Any], path: str) -> None:
    op = operation(schema, path, "get")
    headers = {p["name"] for p in op["parameters"] if p["in"] == "header"}

    assert "If-None-Match" in headers
    assert "ETag" in op["responses"]["200"]["headers"]
    assert "ETag" in op["responses"]["304"]["headers"]
    assert "content" not in op["responses"]["304"]


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_writes_to_a_book_document_if_match_and_412(schema: dict[str, Any], method: str) -> None:
    op = operation(schema, "/books/{id}/", method)

    assert "If-Match" in {p["name"] for p in op["parameters"] if p["in"] == "header"}
    assert response_ref(op, "412") == "#/components/schemas/Error"
    if method != "delete":
        assert "ETag" in op["responses"]["200"]["headers"]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_a_books_id_is_an_integer_path_parameter(schema: dict[str, Any], method: str) -> None:
    (book_id,) = [
        p for p in operation(schema, "/books/{id}/", method)["parameters"] if p["in"] == "path"
    ]

    assert book_id["name"] == "id"
    assert book_id["required"] is True
    assert book_id["schema"]["type"] == "integer"


def test_every_book_operation_has_its_own_summary_and_description(
    schema: dict[str, Any],
) -> None:
    from books.views import BookViewSet

    book_operations = [
        (path, method, op)
        for path, method, op in all_operations(schema)
        if path.startswith("/books/")
    ]
    summaries = [op.get("summary", "") for _, _, op in book_operations]
    descriptions = [op.get("description", "") for _, _, op in book_operations]

    assert len(book_operations) >= len(BOOK_OPERATIONS)
    assert all(summaries)
    assert all(descriptions)
    assert len(set(summaries)) == len(summaries)
    assert len(set(descriptions)) == len(descriptions)
    assert BookViewSet.__doc__ is not None
    assert BookViewSet.__doc__.strip() not in descriptions


# --- the schema against real responses --------------------------------------------------


@pytest.fixture
def book(db: None) -> Book:
    return BookFactory()  # type: ignore[no-any-return]


def _session_client(user: Any) -> APIClient:
    client = APIClient(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(user)
    return client


def _bad_token_client() -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    return client


Case = Callable[[APIClient, APIClient, Any, Book], Any]

# (operation path, method, status the API gives, how to make it give it)
REAL_ERRORS: dict[str, tuple[str, str, int, Case]] = {
    "create-invalid-field": (
        "/books/",
        "post",
        400,
        lambda anon, auth, user, book: auth.post(
            "/books/", book_payload(isbn="nope"), format="json"
        ),
    ),
    "create-malformed-json": (
        "/books/",
        "post",
        400,
        lambda anon, auth, user, book: auth.post("/books/", b"{", content_type=JSON),
    ),
    "list-invalid-page-size": (
        "/books/",
        "get",
        400,
        lambda anon, auth, user, book: anon.get("/books/?page_size=0"),
    ),
    "list-bad-token": (
        "/books/",
        "get",
        401,
        lambda anon, auth, user, book: _bad_token_client().get("/books/"),
    ),
    "create-anonymous": (
        "/books/",
        "post",
        401,
        lambda anon, auth, user, book: anon.post("/books/", book_payload(), format="json"),
    ),
    "create-session-without-csrf": (
        "/books/",
        "post",
        403,
        lambda anon, auth, user, book: _session_client(user).post(
            "/books/", book_payload(), format="json"
        ),
    ),
    "list-unservable-accept": (
        "/books/",
        "get",
        406,
        lambda anon, auth, user, book: anon.get("/books/", HTTP_ACCEPT="application/xml"),
    ),
    "create-too-large": (
        "/books/",
        "post",
        413,
        lambda anon, auth, user, book: auth.post(
            "/books/", b" " * (django_settings.REQUEST_BODY_MAX_BYTES + 1), content_type=JSON
        ),
    ),
    "create-not-json": (
        "/books/",
        "post",
        415,
        lambda anon, auth, user, book: auth.post("/books/", b"x", content_type="text/plain"),
    ),
    "list-in-an-export-format": (
        "/books/",
        "get",
        404,
        lambda anon, auth, user, book: anon.get("/books/?format=csv"),
    ),
    "retrieve-missing": (
        "/books/{id}/",
        "get",
        404,
        lambda anon, auth, user, book: anon.get("/books/999999/"),
    ),
    "update-invalid-field": (
        "/books/{id}/",
        "put",
        400,
        lambda anon, auth, user, book: auth.put(
            f"/books/{book.pk}/", book_payload(title=""), format="json"
        ),
    ),
    "update-anonymous": (
        "/books/{id}/",
        "patch",
        401,
        lambda anon, auth, user, book: anon.patch(f"/books/{book.pk}/", {}, format="json"),
    ),
    "delete-anonymous": (
        "/books/{id}/",
        "delete",
        401,
        lambda anon, auth, user, book: anon.delete(f"/books/{book.pk}/"),
    ),
    "delete-session-without-csrf": (
        "/books/{id}/",
        "delete",
        403,
        lambda anon, auth, user, book: _session_client(user).delete(f"/books/{book.pk}/"),
    ),
    "update-missing": (
        "/books/{id}/",
        "put",
        404,
        lambda anon, auth, user, book: auth.put("/books/999999/", book_payload(), format="json"),
    ),
    "update-not-json": (
        "/books/{id}/",
        "patch",
        415,
        lambda anon, auth, user, book: auth.patch(
            f"/books/{book.pk}/", b"title=x", content_type="application/x-www-form-urlencoded"
        ),
    ),
    "token-wrong-password": (
        "/auth/token/",
        "post",
        400,
        lambda anon, auth, user, book: anon.post(
            "/auth/token/", {"username": "writer", "password": "wrong"}, format="json"
        ),
    ),
    "token-not-json": (
        "/auth/token/",
        "post",
        415,
        lambda anon, auth, user, book: anon.post(
            "/auth/token/", b"username=writer", content_type="application/x-www-form-urlencoded"
        ),
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", REAL_ERRORS.values(), ids=REAL_ERRORS.keys())
def test_real_error_is_documented_with_its_true_shape(
    schema: dict[str, Any],
    api_client: APIClient,
    auth_client: APIClient,
    user: Any,
    book: Book,
    case: tuple[str, str, int, Case],
) -> None:
    path, method, status, make = case

    response = make(api_client, auth_client, user, book)

    assert response.status_code == status, response.content
    assert response["Content-Type"] == JSON
    ref = response_ref(operation(schema, path, method), str(status))
    assert_matches(schema, ref, json.loads(response.content))


@pytest.mark.django_db
def test_a_retrieve_ignores_the_list_filters_as_the_schema_says(
    schema: dict[str, Any], api_client: APIClient, book: Book
) -> None:
    # Filters narrow the list only: the detail operation documents none, and a book's own
    # URL finds it whatever the query string says.
    documented = {p["name"] for p in operation(schema, "/books/{id}/", "get").get("parameters", [])}
    assert documented.isdisjoint(
        {"author", "isbn", "published_after", "published_before", "search"}
    )

    response = api_client.get(f"/books/{book.pk}/?published_after=yesterday&author=nobody")

    assert response.status_code == 200, response.content
    assert response.json()["id"] == book.pk


@pytest.mark.django_db
def test_real_pages_match_the_documented_envelope(
    schema: dict[str, Any], api_client: APIClient
) -> None:
    BookFactory.create_batch(3)
    ref = response_ref(operation(schema, "/books/", "get"), "200")

    first = api_client.get("/books/?page_size=2").json()
    last = api_client.get(first["next"]).json()

    assert first["next"] is not None
    assert last["next"] is None
    assert last["previous"] is not None
    for page in (first, last):
        assert_matches(schema, ref, page)


@pytest.mark.django_db
def test_a_real_create_matches_the_documented_201(
    schema: dict[str, Any], auth_client: APIClient
) -> None:
    documented = operation(schema, "/books/", "post")["responses"]["201"]

    response = auth_client.post("/books/", book_payload(), format="json")

    assert response.status_code == 201
    assert_matches(schema, documented["content"][JSON]["schema"]["$ref"], response.json())
    assert set(response.json()) == set(schema["components"]["schemas"]["Book"]["properties"])
    # Every documented header but the replay's mark, which only a retry with the key gets.
    assert set(documented["headers"]) - {"Idempotent-Replayed"} <= set(response.headers)
    assert response["Location"].endswith(f"/books/{response.json()['id']}/")


@pytest.mark.django_db
def test_a_real_replayed_create_has_every_documented_201_header(
    schema: dict[str, Any], auth_client: APIClient
) -> None:
    documented = operation(schema, "/books/", "post")["responses"]["201"]
    payload = book_payload()

    first = auth_client.post("/books/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    replayed = auth_client.post("/books/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == replayed.status_code == 201
    assert set(documented["headers"]) <= set(replayed.headers)
    assert replayed["Idempotent-Replayed"] == "true"
    assert replayed["ETag"] == first["ETag"]
    assert_matches(schema, documented["content"][JSON]["schema"]["$ref"], replayed.json())


@pytest.mark.django_db
def test_a_real_bulk_create_matches_the_documented_201(
    schema: dict[str, Any], auth_client: APIClient
) -> None:
    documented = operation(schema, "/books/", "post")["responses"]["201"]

    batch = [book_payload(isbn=demo_isbn(number)) for number in (800_000_001, 800_000_002)]

    response = auth_client.post("/books/", batch, format="json")

    assert response.status_code == 201, response.content
    assert_matches(schema, "#/components/schemas/BookBatch", response.json())
    assert_matches(schema, documented["content"][JSON]["schema"]["$ref"], response.json())


@pytest.mark.django_db
def test_a_real_token_matches_the_documented_200(
    schema: dict[str, Any], api_client: APIClient, user: Any
) -> None:
    response = api_client.post(
        "/auth/token/", {"username": "writer", "password": "a-long-password-1"}, format="json"
    )

    assert response.status_code == 200
    assert_matches(
        schema, response_ref(operation(schema, "/auth/token/", "post"), "200"), response.json()
    )


@pytest.mark.django_db
def test_a_real_429_and_the_success_before_it_have_the_documented_headers(
    schema: dict[str, Any], api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    rates = {"anon": "1/min", "user": "1/min", "auth": "1/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    documented = operation(schema, "/books/", "get")["responses"]
    cache.clear()  # the schema's own request was counted

    allowed = api_client.get("/books/")
    throttled = api_client.get("/books/")

    assert allowed.status_code == 200, allowed.content
    assert set(documented["200"]["headers"]) <= set(allowed.headers)
    assert throttled.status_code == 429, throttled.content
    assert set(documented["429"]["headers"]) <= set(throttled.headers)
    assert int(throttled["Retry-After"]) >= 1
    assert_matches(
        schema, response_ref(operation(schema, "/books/", "get"), "429"), throttled.json()
    )


def _database_refuses(*args: object, **kwargs: object) -> Any:
    raise OperationalError("connection refused")  # no driver detail: unavailability


@pytest.mark.django_db
def test_a_real_503_has_the_documented_shape_and_retry_after(
    schema: dict[str, Any], api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "book_list", _database_refuses)
    op = operation(schema, "/books/", "get")

    response = api_client.get("/books/")

    assert response.status_code == 503, response.content
    assert set(op["responses"]["503"]["headers"]) <= set(response.headers)
    assert int(response["Retry-After"]) >= 1
    assert_matches(schema, response_ref(op, "503"), response.json())


# --- the docs page: served, and with nothing from a CDN ---------------------------------


class _AssetCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


@pytest.fixture
def static_client(settings: Any, tmp_path: Path) -> Client:
    """A client whose WhiteNoise serves static files from the app finders.

    Tests run with DEBUG off, so WhiteNoise would otherwise serve only STATIC_ROOT, which
    exists only after a local collectstatic. An empty STATIC_ROOT proves the files come from
    the installed apps. WhiteNoise reads these settings when the client builds its middleware.
    """
    settings.WHITENOISE_USE_FINDERS = True
    settings.STATIC_ROOT = tmp_path / "empty-static-root"
    settings.STATIC_ROOT.mkdir()
    return Client(raise_request_exception=False)


def docs_asset_urls(client: Client) -> list[str]:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    collector = _AssetCollector()
    collector.feed(response.content.decode())
    return collector.urls


@pytest.mark.django_db
def test_docs_page_loads_scripts_and_styles_only_from_local_static(
    static_client: Client,
) -> None:
    urls = docs_asset_urls(static_client)

    assert any(url.endswith(".js") for url in urls)
    assert any(url.endswith(".css") for url in urls)
    for url in urls:
        # Static files, or Swagger UI's start-up script, served apart so no script is inline.
        assert url.startswith(("/static/", "/api/docs/?script")), url
        assert "//" not in url, url


CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "fonts.googleapis.com")


@pytest.mark.django_db
def test_docs_page_names_no_cdn(static_client: Client) -> None:
    content = static_client.get("/api/docs/").content.decode()

    for host in CDN_HOSTS:
        assert host not in content


@pytest.mark.django_db
def test_docs_page_assets_are_served(static_client: Client) -> None:
    urls = docs_asset_urls(static_client)

    for url in urls:
        response = static_client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response) if response.streaming else response.content
        response.close()
        assert len(body) > 100, url
        if url.endswith(".js"):
            assert "javascript" in response["Content-Type"], url
        if url.endswith(".css"):
            assert response["Content-Type"].startswith("text/css"), url


@pytest.mark.django_db
def test_docs_page_loads_the_schema_it_points_to(static_client: Client) -> None:
    script = static_client.get("/api/docs/?script=").content.decode()
    assert 'url: "/api/schema/"' in script

    # What Swagger UI's fetch() sends.
    response = static_client.get("/api/schema/", HTTP_ACCEPT="application/json,*/*")

    assert response.status_code == 200
    assert set(json.loads(response.content)["paths"]) >= {"/books/", "/auth/token/"}
