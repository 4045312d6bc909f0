"""Reading an import file: opening (gzip too), decoding, CSV or JSON Lines, and columns.

A reader yields records: a line number and the five raw values in rows.FIELDS order (MISSING
for a column the file lacks), or a line number and the errors that make the record unreadable.
Files are read as a stream, so memory does not grow with the file.
"""

import codecs
import contextlib
import csv
import difflib
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
#: The separators a CSV file's own shape is checked for (without --delimiter).
DELIMITERS = (",", ";", "\t", "|")
#: How much of the start of a file the delimiter is read from: a header and some rows.
_SNIFF_LINES = 20
_SNIFF_CHARACTERS = 64 * 1024
#: Other names a column commonly has for a field (after normalize_column_name).
COLUMN_ALIASES = {"isbn13": "isbn", "isbn10": "isbn"}

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
        self._read_ahead: list[str] = []

    def __iter__(self) -> "_BoundedLines":
        return self

    def peek(self, lines: int, characters: int) -> list[str]:
        """The next ``lines`` lines (fewer once ``characters`` are read), still to be read."""
        size = sum(map(len, self._read_ahead))
        while len(self._read_ahead) < lines and size < characters:
            text = self._readline(MAX_CSV_LINE_CHARACTERS)
            if not text:
                break
            self._read_ahead.append(text)
            size += len(text)
        return list(self._read_ahead)

    def _next_text(self, limit: int) -> str:
        if self._read_ahead:
            return self._read_ahead.pop(0)
        return self._readline(limit)

    def __next__(self) -> str:
        text = self._next_text(MAX_CSV_LINE_CHARACTERS)
        if not text:
            raise StopIteration
        self.line += 1
        if len(text) == MAX_CSV_LINE_CHARACTERS and not text.endswith(("\n", "\r")):
            while (
                (rest := self._next_text(MAX_CSV_LINE_CHARACTERS))
                and len(rest) == MAX_CSV_LINE_CHARACTERS
                and not rest.endswith(("\n", "\r"))
            ):
                pass
            raise LineTooLong(self.line, text[:100])
        return text


_COLUMN_NAME_SEPARATORS = re.compile(r"[\s_\-]+")


def normalize_column_name(name: str) -> str:
    """A column name as matched: case, spaces, underscores and hyphens aside, so that
    "Publication Date", "publication-date" and "PUBLICATION_DATE" are one name."""
    return _COLUMN_NAME_SEPARATORS.sub("", name.lstrip("\ufeff")).lower()


#: Each field under its normalised name, and the aliases.
_FIELD_KEYS = {normalize_column_name(name): name for name in FIELDS} | COLUMN_ALIASES


def detect_delimiter(lines: Sequence[str]) -> str | None:
    """The one of DELIMITERS that splits ``lines`` (a header and the rows after it) into the
    most columns, the same number in every complete row; None if none splits the header.

    What csv.Sniffer does, but only among DELIMITERS and judged by a CSV reader, so commas
    inside quoted titles do not count.
    """
    best, best_width = None, 1
    for delimiter in DELIMITERS:
        rows: list[list[str]] = []
        with contextlib.suppress(csv.Error):  # e.g. a quoted text the sample cuts short
            rows.extend(row for row in csv.reader(lines, delimiter=delimiter) if row)
        if not rows:
            continue
        width = len(rows[0])
        # The last row may be cut short by the sample's end: it is not held to the width.
        if width > best_width and all(len(row) == width for row in rows[1:-1]):
            best, best_width = delimiter, width
    return best


def parse_column_map(specs: Sequence[str]) -> dict[str, str]:
    """``["Book Title=title", ...]`` (from ``--map``) as {column name: field}; the names are
    matched as normalize_column_name() has them."""
    column_map: dict[str, str] = {}
    for spec in specs:
        column, separator, field = spec.rpartition("=")
        field = field.strip().lower()
        if not separator or not column.strip():
            raise ImportFileError(
                f"--map {spec!r}: expected COLUMN=FIELD, e.g. 'Book Title=title'."
            )
        field = _FIELD_KEYS.get(normalize_column_name(field), field)
        if field not in FIELDS:
            raise ImportFileError(
                f"--map {spec!r}: {field!r} is not a book field (one of {', '.join(FIELDS)})."
            )
        if field in column_map.values():
            raise ImportFileError(f"--map gives the field {field!r} more than once.")
        column_map[column.strip()] = field
    return column_map


def resolve_columns(
    names: Sequence[str], column_map: Mapping[str, str]
) -> tuple[dict[str, int], list[str]]:
    """Which column gives each field: ({field: position}, [names of the columns ignored]).

    A column named in ``--map`` gives its field; otherwise a column whose name is a field's
    or one of COLUMN_ALIASES (case, spaces, underscores and hyphens aside) gives it, unless
    ``--map`` already gave that field.
    Two columns giving one field is an error: which to take would be a guess.
    """
    positions: dict[str, int] = {}

    def claim(field: str, position: int) -> None:
        if field in positions:
            raise ImportFileError(
                f"Columns {names[positions[field]]!r} and {names[position]!r} both give the "
                f"field {field!r}; rename one or choose with --map, e.g. "
                f"--map '{names[positions[field]]}={field}'."
            )
        positions[field] = position

    column_map = {normalize_column_name(name): field for name, field in column_map.items()}
    keys = [normalize_column_name(name) for name in names]
    for position, key in enumerate(keys):
        if key in column_map:
            claim(column_map[key], position)
    mapped_fields = set(column_map.values())
    for position, key in enumerate(keys):
        field = _FIELD_KEYS.get(key)
        if field is not None and key not in column_map and field not in mapped_fields:
            claim(field, position)
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


#: Words a column name holding each required field often has.
_FIELD_WORDS = {
    "title": ("title", "name"),
    "author": ("author", "writer", "creator", "by"),
    "publication_date": ("publication", "published", "date", "year"),
    "isbn": ("isbn", "ean"),
}


def likely_column(field: str, names: Sequence[str]) -> str | None:
    """The name in ``names`` most like one for ``field``, or None: one holding a word for it
    ("Book-Title" for title, "original_publication_year" for publication_date), the closest
    spelling first; else a close misspelling ("Auhtor")."""
    keys = {normalize_column_name(name): name for name in names}
    target = normalize_column_name(field)
    holding = [key for key in keys if any(word in key for word in _FIELD_WORDS.get(field, ()))]
    close = difflib.get_close_matches(
        target, holding or list(keys), n=1, cutoff=0 if holding else 0.6
    )
    return keys[close[0]] if close else None


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
        delimiter: str | None = None,
    ) -> None:
        """``delimiter`` None: the one of DELIMITERS the file's first lines show (else ",")."""
        self.path = path
        self.format = detect_format(path, file_format)
        if self.format not in FORMATS:
            raise ImportFileError(f"Unknown format {self.format!r}: use csv or jsonl.")
        try:
            self.encoding = codecs.lookup(encoding).name
        except LookupError as error:
            raise ImportFileError(f"Unknown encoding {encoding!r}.") from error
        self.column_map = dict(column_map or {})
        self.delimiter = delimiter or ","
        self._detect_delimiter = delimiter is None
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
        if self._detect_delimiter:
            try:
                sample = self._lines.peek(_SNIFF_LINES, _SNIFF_CHARACTERS)
            except UnicodeDecodeError as error:
                raise self._undecodable_stream(1, error) from error
            self.delimiter = detect_delimiter(sample) or ","
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
        # The required fields come first in FIELDS, so an absent optional column is filled in
        # with MISSING at the end, or (a precision column without a summary) before the last.
        padding = (MISSING,) * (len(FIELDS) - len(present))
        summary_gap = len(present) == len(FIELDS) - 1 and "summary" not in present
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
            if summary_gap:
                yield start, (*values[:-1], MISSING, values[-1])
            else:
                yield start, (*values, *padding) if padding else values

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
        unmatched = [
            column for column in self.column_map if normalize_column_name(column) not in known
        ]
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
                f"{self._likely_fix(missing, fields, names)}{hint}"
            )

    def _likely_fix(
        self, missing: Sequence[str], fields: Mapping[str, object], names: Sequence[str]
    ) -> str:
        """What to do about missing columns: the delimiter the header shows, if it was read
        as one column, or a --map for each missing field from the likeliest column."""
        if self.format == "csv" and len(names) == 1:
            shown = [delimiter for delimiter in DELIMITERS if delimiter in names[0]]
            if shown:
                option = "tab" if shown[0] == "\t" else shown[0]
                return (
                    f"The header was read as one column, with {self.delimiter!r} between "
                    f"columns; the file looks {shown[0]!r}-separated: --delimiter '{option}'."
                )
        taken = {names[value] if isinstance(value, int) else value for value in fields.values()}
        free = [name for name in names if name not in taken]
        maps = []
        for field in missing:
            column = likely_column(field, free)
            if column is not None:
                free.remove(column)
                maps.append(f"--map '{column}={field}'")
        if maps:
            return f"Name a column for each with --map 'COLUMN=FIELD'; likely: {' '.join(maps)}."
        return "Name a column for each with --map 'COLUMN=FIELD'."

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
