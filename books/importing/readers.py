"""Reading an import file: opening (gzip too), decoding, CSV or JSON Lines, and columns.

A reader yields records: a line number and the five raw values in rows.FIELDS order (MISSING
for a column the file lacks), or a line number and the errors that make the record unreadable.
Files are read as a stream, so memory does not grow with the file.
"""

import codecs
import csv
import gzip
import io
import json
import operator
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO

from books.exporting import FORMATS, csv_cell_value
from books.importing.rows import FIELDS, MISSING, NON_FIELD_ERRORS, REQUIRED_FIELDS, FieldError

#: A record: (line, raw values) for a readable row, (line, errors) for an unreadable one.
Record = tuple[int, tuple[object, ...] | list[FieldError]]

# FORMATS (from books.exporting): the importer reads the formats the exporter writes.
DEFAULT_ENCODING = "utf-8-sig"  # UTF-8, with a byte-order mark (Excel writes one) skipped

_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_GZIP_MAGIC = b"\x1f\x8b"
#: A JSON line longer than this is refused unread (a valid book needs well under 200 kB).
MAX_JSON_LINE_CHARACTERS = 1_048_576
#: A CSV line longer than this is refused unread, like a JSON line: csv.reader would read a
#: whole line into memory first, however long (issue 13, finding 9).
MAX_CSV_LINE_CHARACTERS = 1_048_576
#: More distinct ignored column names or JSON keys than this are not listed (a file could
#: have millions); ``ignored_column_count`` says how many there were.
MAX_IGNORED_NAMES = 50
_TEXT_CHUNK_BYTES = 256 * 1024

# Bytes the encoding cannot decode arrive as lone surrogates U+DC80-U+DCFF ("surrogateescape"),
# so one bad byte rejects its row, not the whole file.
_UNDECODED_BYTE = re.compile("[\udc80-\udcff]")


class ImportFileError(Exception):
    """The file as a whole cannot be imported (unreadable, unknown format, missing columns)."""


class LineTooLong(Exception):
    """A CSV line over MAX_CSV_LINE_CHARACTERS; it has been skipped, unread."""

    def __init__(self, line: int, start: str) -> None:
        super().__init__(f"Line longer than {MAX_CSV_LINE_CHARACTERS:,} characters.")
        self.line = line
        self.start = start


class _BoundedLines:
    """The lines of a text stream for csv.reader, none longer than MAX_CSV_LINE_CHARACTERS.

    An overlong line is read past in bounded pieces and raises LineTooLong; csv.reader starts
    its next row afresh, so reading goes on with the following line. An iterator class, not a
    generator: a generator that raises is finished."""

    def __init__(self, text: IO[str]) -> None:
        self._readline = text.readline
        self.line = 0

    def __iter__(self) -> "_BoundedLines":
        return self

    def __next__(self) -> str:
        text = self._readline(MAX_CSV_LINE_CHARACTERS)
        if not text:
            raise StopIteration
        self.line += 1
        if len(text) == MAX_CSV_LINE_CHARACTERS and not text.endswith(("\n", "\r")):
            while (
                (rest := self._readline(MAX_CSV_LINE_CHARACTERS))
                and len(rest) == MAX_CSV_LINE_CHARACTERS
                and not rest.endswith(("\n", "\r"))
            ):
                pass
            raise LineTooLong(self.line, text[:100])
        return text


def normalize_column_name(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()


def parse_column_map(specs: Sequence[str]) -> dict[str, str]:
    """``["Book Title=title", ...]`` (from ``--map``) as {normalised column name: field}."""
    column_map: dict[str, str] = {}
    for spec in specs:
        column, separator, field = spec.rpartition("=")
        field = field.strip().lower()
        if not separator or not column.strip():
            raise ImportFileError(
                f"--map {spec!r}: expected COLUMN=FIELD, e.g. 'Book Title=title'."
            )
        if field not in FIELDS:
            raise ImportFileError(
                f"--map {spec!r}: {field!r} is not a book field (one of {', '.join(FIELDS)})."
            )
        if field in column_map.values():
            raise ImportFileError(f"--map gives the field {field!r} more than once.")
        column_map[normalize_column_name(column)] = field
    return column_map


def resolve_columns(
    names: Sequence[str], column_map: Mapping[str, str]
) -> tuple[dict[str, int], list[str]]:
    """Which column gives each field: ({field: position}, [names of the columns ignored]).

    A column named in ``--map`` gives its field; otherwise a column whose name is a field's
    (case and surrounding spaces aside) gives it, unless ``--map`` already gave that field.
    Two columns giving one field is an error: which to take would be a guess.
    """
    positions: dict[str, int] = {}

    def claim(field: str, position: int) -> None:
        if field in positions:
            raise ImportFileError(
                f"Columns {names[positions[field]]!r} and {names[position]!r} both give the "
                f"field {field!r}; rename one or choose with --map."
            )
        positions[field] = position

    keys = [normalize_column_name(name) for name in names]
    for position, key in enumerate(keys):
        if key in column_map:
            claim(column_map[key], position)
    mapped_fields = set(column_map.values())
    for position, key in enumerate(keys):
        if key in FIELDS and key not in column_map and key not in mapped_fields:
            claim(key, position)
    taken = set(positions.values())
    ignored = [name for position, name in enumerate(names) if position not in taken]
    return positions, ignored


def detect_format(path: str, requested: str | None) -> str:
    if requested:
        return requested
    suffixes = [suffix.lower() for suffix in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    if suffixes and suffixes[-1] in _EXTENSIONS:
        return _EXTENSIONS[suffixes[-1]]
    raise ImportFileError(
        f"Cannot tell the format of {path!r} from its name: use --format csv or --format jsonl."
    )


def describe_undecoded(value: str) -> str:
    """The text with each undecodable byte shown as \\xNN, for error reports."""
    return _UNDECODED_BYTE.sub(lambda match: f"\\x{ord(match.group()) - 0xDC00:02x}", value)


class BookSource:
    """An open import file: its records, how far through it the reading is, what it ignored.

    ``path`` ``-`` reads standard input. Gzip is recognised by its first bytes, whatever
    the name.
    """

    def __init__(
        self,
        path: str,
        *,
        file_format: str | None = None,
        encoding: str = DEFAULT_ENCODING,
        column_map: Mapping[str, str] | None = None,
        delimiter: str = ",",
    ) -> None:
        self.path = path
        self.format = detect_format(path, file_format)
        if self.format not in FORMATS:
            raise ImportFileError(f"Unknown format {self.format!r}: use csv or jsonl.")
        try:
            self.encoding = codecs.lookup(encoding).name
        except LookupError as error:
            raise ImportFileError(f"Unknown encoding {encoding!r}.") from error
        self.column_map = dict(column_map or {})
        self.delimiter = delimiter
        self.ignored_columns: list[str] = []
        #: How many columns were ignored; None: more than listed, how many is not known.
        self.ignored_column_count: int | None = 0
        self._undecodable = (
            f"Not valid {self.encoding}: undecodable bytes (choose the file's encoding with "
            "--encoding, e.g. cp1252 or latin-1)."
        )
        self._raw: BinaryIO = self._open_raw(path)
        self.total_bytes = self._size(self._raw)
        self._binary: IO[bytes] | gzip.GzipFile = self._raw
        if self._raw.peek(2)[:2] == _GZIP_MAGIC:  # type: ignore[attr-defined]
            self._binary = gzip.GzipFile(fileobj=self._raw, mode="rb")
        self._text = io.TextIOWrapper(
            self._binary,  # type: ignore[arg-type]
            encoding=self.encoding,
            errors="surrogateescape",
            newline="" if self.format == "csv" else None,
        )
        self._text._CHUNK_SIZE = _TEXT_CHUNK_BYTES  # type: ignore[attr-defined]
        try:
            if self.format == "csv":
                self._reader = self._csv_records(self._csv_columns())  # header checked first
            else:
                self._reader = self._json_records()
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _open_raw(path: str) -> BinaryIO:
        if path == "-":
            return sys.stdin.buffer
        try:
            return open(path, "rb")
        except OSError as error:
            raise ImportFileError(f"Cannot open {path!r}: {error.strerror}.") from error

    @staticmethod
    def _size(raw: BinaryIO) -> int | None:
        try:
            status = os.fstat(raw.fileno())
        except (OSError, ValueError):
            return None
        return status.st_size if status.st_size > 0 else None

    def bytes_read(self) -> int | None:
        """How far into the file (compressed bytes for gzip) reading has got, if knowable."""
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return None

    def records(self) -> Iterator[Record]:
        return self._reader

    def close(self) -> None:
        if self._raw is sys.stdin.buffer:
            self._text.detach()  # leave standard input open
            if self._binary is not self._raw:
                self._binary.close()  # the gzip reader, not what it reads
        else:
            self._text.close()
            self._raw.close()

    def __enter__(self) -> "BookSource":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _undecodable_stream(self, line: int, error: UnicodeDecodeError) -> ImportFileError:
        # Single-byte and UTF-8 errors are per row (surrogateescape); a broken UTF-16 or
        # UTF-32 stream cannot be resynchronised, so reading stops there. Text is decoded a
        # chunk ahead of the rows, so the bad bytes are at or after ``line``.
        return ImportFileError(
            f"Cannot decode the file as {self.encoding} ({error.reason}); reading stopped "
            f"before line {line}. Batches already written are kept."
        )

    # --- CSV ----------------------------------------------------------------------------

    def _csv_columns(self) -> tuple[Any, int, list[str]]:
        """Read the header: (csv reader, its width, the fields present in FIELDS order)."""
        self._lines = _BoundedLines(self._text)
        reader = csv.reader(self._lines, delimiter=self.delimiter)
        header = self._csv_header(reader)
        positions, ignored = resolve_columns(header, self.column_map)
        self.ignored_columns = ignored[:MAX_IGNORED_NAMES]
        self.ignored_column_count = len(ignored)
        self._check_columns(header, positions)
        present = [name for name in FIELDS if name in positions]
        self._pick: Callable[[list[str]], tuple[str, ...]] = operator.itemgetter(
            *(positions[name] for name in present)
        )
        return reader, len(header), present

    def _csv_records(self, columns: tuple[Any, int, list[str]]) -> Iterator[Record]:
        reader, width, present = columns
        pick = self._pick
        has_summary = "summary" in present
        undecodable = self._undecodable
        line = self._lines.line
        while True:
            start = line + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                line = self._lines.line
                yield start, [FieldError(NON_FIELD_ERRORS, f"Malformed CSV: {error}.", "")]
                continue
            except LineTooLong as error:
                line = self._lines.line
                yield error.line, [FieldError(NON_FIELD_ERRORS, str(error), error.start)]
                continue
            except UnicodeDecodeError as error:
                raise self._undecodable_stream(start, error) from error
            line = self._lines.line
            if not row:
                continue  # a blank line
            if len(row) != width:
                message = f"Expected {width} fields, as in the header; found {len(row)}."
                yield start, [FieldError(NON_FIELD_ERRORS, message, self.delimiter.join(row))]
                continue
            values = tuple(map(csv_cell_value, pick(row)))  # the export's formula escapes
            if not "".join(values).isascii():
                errors = [
                    FieldError(name, undecodable, describe_undecoded(value))
                    for name, value in zip(present, values, strict=True)
                    if _UNDECODED_BYTE.search(value)
                ]
                if errors:
                    yield start, errors
                    continue
            yield start, (values if has_summary else (*values, MISSING))

    def _csv_header(self, reader: Any) -> list[str]:
        try:
            for row in reader:
                if row:
                    return list(row)
        except (csv.Error, LineTooLong) as error:
            raise ImportFileError(f"Cannot read the CSV header: {error}") from error
        except UnicodeDecodeError as error:
            raise self._undecodable_stream(1, error) from error
        raise ImportFileError(f"{self.path!r} is empty: a CSV file needs a header row.")

    def _check_columns(self, header: Sequence[str], positions: Mapping[str, int]) -> None:
        known = {normalize_column_name(name) for name in header}
        unmatched = [column for column in self.column_map if column not in known]
        if unmatched:
            raise ImportFileError(
                f"--map names columns the header lacks: {', '.join(map(repr, unmatched))} "
                f"(the header has {', '.join(map(repr, header))})."
            )
        self._check_required(positions, header)

    def _check_required(self, fields: Mapping[str, object], names: Sequence[str]) -> None:
        missing = [name for name in REQUIRED_FIELDS if name not in fields]
        if missing:
            hint = ""
            if any(_UNDECODED_BYTE.search(name) for name in names):
                hint = f" {self._undecodable}"
            raise ImportFileError(
                f"Required columns missing: {', '.join(missing)}. Found: "
                f"{', '.join(repr(describe_undecoded(name)) for name in names)}. "
                f"Name a column for each with --map 'COLUMN=FIELD'.{hint}"
            )

    # --- JSON Lines -----------------------------------------------------------------------

    def _json_records(self) -> Iterator[Record]:
        readline = self._text.readline
        plans: dict[tuple[str, ...], list[tuple[str, int]] | FieldError] = {}
        undecodable = FieldError(NON_FIELD_ERRORS, self._undecodable, "")
        checked_columns = False
        line = 0
        while True:
            try:
                text = readline(MAX_JSON_LINE_CHARACTERS)
            except UnicodeDecodeError as error:
                raise self._undecodable_stream(line + 1, error) from error
            if not text:
                return
            line += 1
            if len(text) == MAX_JSON_LINE_CHARACTERS and not text.endswith("\n"):
                while (rest := readline(MAX_JSON_LINE_CHARACTERS)) and not rest.endswith("\n"):
                    pass
                message = f"Line longer than {MAX_JSON_LINE_CHARACTERS} characters."
                yield line, [FieldError(NON_FIELD_ERRORS, message, text[:100])]
                continue
            if not text.isascii() and _UNDECODED_BYTE.search(text):
                yield line, [undecodable._replace(value=describe_undecoded(text.strip()))]
                continue
            try:
                item = json.loads(text)
            except ValueError as error:
                if not text.strip():
                    continue  # a blank line
                message = f"Invalid JSON: {getattr(error, 'msg', error)} (column "
                message += f"{getattr(error, 'colno', '?')})."
                yield line, [FieldError(NON_FIELD_ERRORS, message, text.strip())]
                continue
            if type(item) is not dict:
                message = f"Expected a JSON object, got {type(item).__name__}."
                yield line, [FieldError(NON_FIELD_ERRORS, message, text.strip())]
                continue
            keys = tuple(item)
            plan = plans.get(keys)
            if plan is None:
                plan = self._json_plan(keys)
                if len(plans) > 1000:
                    plans.clear()  # files whose key sets keep changing: stay bounded
                plans[keys] = plan
                if not checked_columns and isinstance(plan, list):
                    self._check_required({FIELDS[index]: key for key, index in plan}, keys)
                    checked_columns = True
            if isinstance(plan, FieldError):
                yield line, [plan]
                continue
            values: list[object] = [MISSING] * len(FIELDS)
            for key, index in plan:
                values[index] = item[key]
            yield line, tuple(values)

    def _json_plan(self, keys: tuple[str, ...]) -> list[tuple[str, int]] | FieldError:
        try:
            positions, ignored = resolve_columns(keys, self.column_map)
        except ImportFileError as error:
            return FieldError(NON_FIELD_ERRORS, str(error), ", ".join(keys))
        for name in ignored:
            if name not in self.ignored_columns:
                if len(self.ignored_columns) < MAX_IGNORED_NAMES:
                    self.ignored_columns.append(name)
                    self.ignored_column_count = len(self.ignored_columns)
                else:  # how many more distinct keys would take a set as large as the file
                    self.ignored_column_count = None
        return [(keys[position], FIELDS.index(field)) for field, position in positions.items()]
