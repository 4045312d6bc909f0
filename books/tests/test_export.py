"""GET /books/export/: the catalogue, or the part the list's filters select, as CSV or JSONL."""

import csv
import io
import json

import pytest
from rest_framework.test import APIClient

from books import exporting, services
from books.demo import demo_books
from books.models import Book
from books.serializers import DISPLAY_FIELDS
from books.tests.factories import BookFactory, book_payload, book_published
from books.tests.pages import walk_forward

EXPORT_URL = "/books/export/"
HEADER = [
    "id",
    "title",
    "author",
    "publication_date",
    "publication_date_precision",
    "isbn",
    "summary",
    "created_at",
    "updated_at",
]

#: Text a naive CSV or JSON Lines writer gets wrong.
AWKWARD_TEXTS = [
    "Commas, semicolons; and more, commas",
    'She said "hello", then left',
    '"Quoted from the start"',
    "A title on\ntwo lines",
    "Windows\r\nline end",
    "Ünïcödé — 書名 📚 Ωμέγα",
    "Line\u2028separator and paragraph\u2029separator",
    "Tab\tinside",
    "=SUM(A1:A2)",
]


def body_of(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8")


def csv_rows(text: str) -> list[list[str]]:
    """Parse as a client reading a downloaded file would (newline="" keeps quoted newlines)."""
    return list(csv.reader(io.StringIO(text, newline="")))


def jsonl_records(text: str) -> list[dict[str, object]]:
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.split("\n")[:-1]]


def details(client: APIClient, ids: list[int]) -> list[dict[str, object]]:
    """What GET /books/{id}/ answers for each id, in order, but for the fields derived for
    display (isbn_display), which the export leaves out: they would not import back."""
    result = []
    for book_id in ids:
        response = client.get(f"/books/{book_id}/")
        assert response.status_code == 200, response.content
        detail = response.json()
        assert set(DISPLAY_FIELDS) <= set(detail)
        result.append({name: value for name, value in detail.items() if name not in DISPLAY_FIELDS})
    return result


def listed_ids(client: APIClient, params: dict[str, str]) -> set[int]:
    return {book["id"] for page in walk_forward(client, params) for book in page["results"]}


def exported_ids(client: APIClient, params: dict[str, str]) -> list[int]:
    rows = csv_rows(body_of(client.get(EXPORT_URL, {**params, "format": "csv"})))
    assert rows[0] == HEADER
    return [int(row[0]) for row in rows[1:]]


def awkward_books() -> list[Book]:
    books = [
        BookFactory(title=text, author=f"Author {index}", summary=text)
        for index, text in enumerate(AWKWARD_TEXTS)
    ]
    books.append(BookFactory(title="No summary", summary=""))
    return books


# --- Access and negotiation ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{}, {"format": "jsonl"}])
def test_export_needs_a_token(api_client, params):
    BookFactory()

    response = api_client.get(EXPORT_URL, params)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}


@pytest.mark.django_db
def test_export_defaults_to_csv_streamed_as_an_attachment(auth_client):
    BookFactory()

    response = auth_client.get(EXPORT_URL)

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="books.csv"'
    assert csv_rows(body_of(response))[0] == HEADER


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "headers", "fmt"),
    [
        ({"format": "csv"}, {}, "csv"),
        ({}, {"HTTP_ACCEPT": "text/csv"}, "csv"),
        ({"format": "jsonl"}, {}, "jsonl"),
        ({}, {"HTTP_ACCEPT": "application/x-ndjson"}, "jsonl"),
    ],
)
def test_export_format_is_chosen_by_query_or_accept_header(auth_client, params, headers, fmt):
    book = BookFactory()

    response = auth_client.get(EXPORT_URL, params, **headers)

    content_type = {"csv": "text/csv", "jsonl": "application/x-ndjson"}[fmt]
    assert response["Content-Type"] == f"{content_type}; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="books.{fmt}"'
    body = body_of(response)
    if fmt == "csv":
        assert [row[0] for row in csv_rows(body)] == ["id", str(book.pk)]
    else:
        assert [record["id"] for record in jsonl_records(body)] == [book.pk]


@pytest.mark.django_db
def test_export_of_an_unknown_format_is_a_400_in_json(auth_client):
    response = auth_client.get(EXPORT_URL, {"format": "xml"})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"format"}
    assert "csv" in body["format"][0]
    assert "jsonl" in body["format"][0]


@pytest.mark.django_db
def test_export_for_a_client_accepting_only_json_is_a_406_in_json(auth_client):
    response = auth_client.get(EXPORT_URL, HTTP_ACCEPT="application/json")

    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("published_after", "2020-13-01"),
        ("published_before", "01/02/2003"),
        ("isbn", "12345"),
        ("search", " ".join(["word"] * 11)),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_with_an_invalid_filter_is_a_400_in_json_naming_it(auth_client, name, value, fmt):
    response = auth_client.get(EXPORT_URL, {name: value, "format": fmt})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {name}


# --- Content: the same values the API gives ----------------------------------------------


@pytest.mark.django_db
def test_csv_export_rows_are_each_books_detail_in_id_order(auth_client):
    books = awkward_books()
    ids = sorted(book.pk for book in books)

    rows = csv_rows(body_of(auth_client.get(EXPORT_URL, {"format": "csv"})))

    assert rows[0] == HEADER
    expected = [[str(detail[name]) for name in HEADER] for detail in details(auth_client, ids)]
    # Cells a spreadsheet would run as formulas carry the export's quote (test_export_formulas).
    assert [[exporting.csv_cell_value(cell) for cell in row] for row in rows[1:]] == expected


@pytest.mark.django_db
def test_csv_export_round_trips_a_lone_carriage_return(auth_client):
    posted = auth_client.post(
        "/books/", book_payload(title="Part one\rPart two", summary="Before\rafter"), format="json"
    )
    assert posted.status_code == 201, posted.content  # the API accepts such text

    rows = csv_rows(body_of(auth_client.get(EXPORT_URL, {"format": "csv"})))

    # A client's CSV reader must see one row holding the text as stored, not two rows.
    assert len(rows) == 2, rows
    assert rows[1] == [str(posted.json()[name]) for name in HEADER]


@pytest.mark.django_db
def test_jsonl_export_lines_are_each_books_detail_in_id_order(auth_client):
    books = awkward_books()
    ids = sorted(book.pk for book in books)

    body = body_of(auth_client.get(EXPORT_URL, {"format": "jsonl"}))

    records = jsonl_records(body)
    assert records == details(auth_client, ids)
    for record in records:
        assert list(record) == HEADER
        assert str(record["created_at"]).endswith("Z")
        assert str(record["updated_at"]).endswith("Z")


@pytest.mark.django_db
def test_export_of_books_created_through_the_api_matches_their_detail(auth_client):
    items = [
        book_payload(title=" Trimmed, with comma ", author="A. Writer", summary=""),
        book_payload(title='Quote " inside', isbn="978-0-13-110362-7", summary="Ünï\nsummary"),
    ]
    posted = auth_client.post("/books/", items, format="json")
    assert posted.status_code == 201, posted.content
    ids = [book["id"] for book in posted.json()]

    records = jsonl_records(body_of(auth_client.get(EXPORT_URL, {"format": "jsonl"})))
    rows = csv_rows(body_of(auth_client.get(EXPORT_URL)))

    expected = details(auth_client, sorted(ids))
    assert records == expected
    assert rows[1:] == [[str(detail[name]) for name in HEADER] for detail in expected]


@pytest.mark.django_db
def test_export_of_an_empty_catalogue_is_just_the_csv_header_or_nothing(auth_client):
    csv_body = body_of(auth_client.get(EXPORT_URL, {"format": "csv"}))
    jsonl_body = body_of(auth_client.get(EXPORT_URL, {"format": "jsonl"}))

    assert csv_body.startswith(",".join(HEADER))
    assert csv_rows(csv_body) == [HEADER]
    assert jsonl_body == ""


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_of_more_rows_than_a_chunk_has_every_book_once_in_id_order(auth_client, fmt):
    count = exporting.CHUNK_ROWS + 500
    services.book_bulk_create(items=list(demo_books(count, seed=5)))
    all_ids = sorted(Book.objects.values_list("id", flat=True))
    assert len(all_ids) == count

    response = auth_client.get(EXPORT_URL, {"format": fmt})
    assert response.status_code == 200
    chunks = [chunk.decode("utf-8") for chunk in response.streaming_content]

    assert len([chunk for chunk in chunks if chunk]) >= 2  # streamed in pieces, not at once
    body = "".join(chunks)
    if fmt == "csv":
        rows = csv_rows(body)
        assert rows[0] == HEADER
        assert [int(row[0]) for row in rows[1:]] == all_ids
        last = rows[-1]
    else:
        records = jsonl_records(body)
        assert [record["id"] for record in records] == all_ids
        last = [str(records[-1][name]) for name in HEADER]
    (detail,) = details(auth_client, [all_ids[-1]])
    assert last == [str(detail[name]) for name in HEADER]


# --- Filters: the same books as the list --------------------------------------------------


@pytest.fixture
def catalogue(db: None) -> None:
    """Books on which every filter keeps some and drops some."""

    book = book_published

    book("A Wizard of Earthsea", "Ursula K. Le Guin", 1968, "A young wizard on an island.")
    book("The Left Hand of Darkness", "Ursula K. Le Guin", 1969, "Winter, an icy planet.")
    book("The Dispossessed", "ursula k. le guin", 1974, "An ambiguous utopia.")
    book("Dune", "Frank Herbert", 1965, "Spice and sand; a wizard of sorts.")
    book("Neuromancer", "William Gibson", 1984, "Cyberspace.")
    book("Hyperion", "Dan Simmons", 1989, "Pilgrims, and the Shrike.")
    book("The Fifth Season", "N. K. Jemisin", 2015, "A broken earth; an island of calm.")
    book("Piranesi", "Susanna Clarke", 2020, "A house of endless halls.")
    for index in range(25):  # more than a page of the list
        book(f"Filler volume {index}", "Anonymous", 1990 + index % 10)
    BookFactory(isbn="9780306406157", title="The Pragmatic Programmer", author="Andrew Hunt")


FILTERS = [
    {"author": "URSULA K. LE GUIN"},
    {"isbn": "0-306-40615-2"},
    {"published_after": "1975-01-01"},
    {"published_before": "1969-06-15"},
    {"published_after": "1966-01-01", "published_before": "1993-12-31"},
    {"search": "wizard"},
    {"search": "an island"},
    {"author": "Ursula K. Le Guin", "published_after": "1969-01-01", "search": "the"},
]


@pytest.mark.parametrize("params", FILTERS)
def test_export_filters_select_the_same_books_as_the_list(auth_client, catalogue, params):
    listed = listed_ids(auth_client, params)
    assert 0 < len(listed) < Book.objects.count()  # the filter matters on this catalogue

    csv_ids = exported_ids(auth_client, params)
    jsonl_ids = [
        record["id"]
        for record in jsonl_records(
            body_of(auth_client.get(EXPORT_URL, {**params, "format": "jsonl"}))
        )
    ]

    assert set(csv_ids) == listed
    assert csv_ids == sorted(listed)
    assert jsonl_ids == csv_ids


def test_export_without_filters_has_the_whole_catalogue(auth_client, catalogue):
    assert exported_ids(auth_client, {}) == sorted(Book.objects.values_list("id", flat=True))
