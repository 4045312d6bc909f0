"""Streaming export of the catalogue as CSV or JSON Lines, in constant memory.

Used by `GET /books/export/` and `manage.py export_books`. Rows are read with a database
iterator (a server-side cursor on PostgreSQL) and written out a chunk at a time.
"""

import csv
import datetime
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet

from books.models import Book
from books.serializers import DISPLAY_FIELDS, BookSerializer, iso_date, utc_timestamp

MEDIA_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
FORMATS = tuple(MEDIA_TYPES)
#: The export's columns are the API's stored fields, in the API's order: what import_books
#: reads back (a display form such as isbn_display is not).
FIELDS = tuple(name for name in BookSerializer.Meta.fields if name not in DISPLAY_FIELDS)
#: Rows fetched per database round trip, and written per chunk of output.
CHUNK_ROWS = 2000
#: A CSV cell starting with one of these is a formula to a spreadsheet (OWASP, "CSV
#: Injection"): it is written with a leading single quote, which import_books removes.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPE = "'"


def csv_cell(value: Any) -> Any:
    """``value`` as a CSV cell no spreadsheet runs: a leading quote before a formula's first
    character, and before a quote that starts an escaped-looking value, so that
    csv_cell_value restores every text exactly."""
    if isinstance(value, str) and (
        value.startswith(FORMULA_STARTS)
        or (value.startswith(_ESCAPE) and value[1:].startswith((*FORMULA_STARTS, _ESCAPE)))
    ):
        return _ESCAPE + value
    return value


def csv_cell_value(cell: str) -> str:
    """The text csv_cell escaped: one leading quote removed before a formula character or
    another quote; every other cell as it is."""
    if cell.startswith(_ESCAPE) and cell[1:].startswith((*FORMULA_STARTS, _ESCAPE)):
        return cell[1:]
    return cell


def export_rows(queryset: QuerySet[Book]) -> Iterator[tuple[Any, ...]]:
    """The books' exported fields, in id order (stable while rows are added)."""
    rows = queryset.order_by("id").values_list(*FIELDS)
    return rows.iterator(chunk_size=CHUNK_ROWS)


def export_chunks(queryset: QuerySet[Book], fmt: str) -> Iterator[str]:
    """The export as text chunks: a CSV header then rows, or one JSON object per line."""
    rows = export_rows(queryset)
    if fmt == "csv":
        return _csv_chunks(rows)
    if fmt == "jsonl":
        return _jsonl_chunks(rows)
    raise ValueError(f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.")


def _csv_chunks(rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    buffer = io.StringIO()
    # RFC 4180 line ends; with them the writer also quotes a field holding a lone "\r".
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for count, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(_text(value)) for value in row])
        if count % CHUNK_ROWS == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _jsonl_chunks(rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    lines: list[str] = []
    for row in rows:
        record = dict(zip(FIELDS, (_text(value) for value in row), strict=True))
        lines.append(json.dumps(record, ensure_ascii=False))
        if len(lines) == CHUNK_ROWS:
            yield "\n".join(lines) + "\n"
            lines.clear()
    if lines:
        yield "\n".join(lines) + "\n"


def _text(value: Any) -> Any:
    """Dates and times as the API writes them (ISO 8601, times in UTC with a Z)."""
    if isinstance(value, datetime.datetime):
        return utc_timestamp(value)
    if isinstance(value, datetime.date):
        return iso_date(value)
    return value


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
