"""Publication dates: the API's ISO 8601 format, how precise a date is, and the spellings an
import file may use.

A book's date is stored as a whole date plus its precision: "day", "month" or "year". A date
known only to the year is stored as YYYY-01-01 with precision "year" (and a year-month as
YYYY-MM-01, "month"), so that it is never shown as "January 1" (issue 15, item 10).
"""

import datetime
import re
from typing import NamedTuple

from django.core.exceptions import ValidationError

INVALID_DATE_MESSAGE = "Enter a valid date in the format YYYY-MM-DD."

DAY, MONTH, YEAR = "day", "month", "year"
PRECISIONS = (DAY, MONTH, YEAR)

# ASCII digits only: Python's and Django's parsers would also read fullwidth or Arabic-Indic
# digits, and 2020-1-1, which clients should not come to rely on.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_YEAR = re.compile(r"[0-9]{4}")
_ISO_YEAR_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")


def parse_iso_date(value: object) -> datetime.date:
    """Parse ``YYYY-MM-DD`` strictly; raise ValidationError for anything else."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValidationError(INVALID_DATE_MESSAGE, code="invalid_date")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:  # e.g. 2021-02-30
        raise ValidationError(INVALID_DATE_MESSAGE, code="invalid_date") from error


class PartialDate(NamedTuple):
    """A date as stored (the first day of its month or year when less is known) and how much
    of it is known."""

    date: datetime.date
    precision: str


def parse_iso_partial_date(value: object) -> PartialDate:
    """``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` (ISO 8601's reduced precisions), strictly."""
    if isinstance(value, str):
        try:
            if _ISO_YEAR.fullmatch(value):
                return PartialDate(datetime.date(int(value), 1, 1), YEAR)
            if _ISO_YEAR_MONTH.fullmatch(value):
                return PartialDate(datetime.date(int(value[:4]), int(value[5:]), 1), MONTH)
        except ValueError as error:  # year 0000, month 00 or 13
            raise ValidationError(INVALID_DATE_MESSAGE, code="invalid_date") from error
    return PartialDate(parse_iso_date(value), DAY)


def precision_message(date: datetime.date, precision: object) -> str | None:
    """Why ``date`` cannot have ``precision``, or None if it can.

    The rule every write path applies (Book.clean(), so the API, the admin and the seed, and
    the importer's row rules): a year-precision date is the first of January, a
    month-precision date the first of its month.
    """
    if precision not in PRECISIONS:
        return f'"{precision}" is not a valid choice: one of "day", "month", "year".'
    if precision == YEAR and (date.month, date.day) != (1, 1):
        return (
            f"A date known to the year is stored as YYYY-01-01 ({date.year:04d}-01-01), "
            f"not {date.isoformat()}."
        )
    if precision == MONTH and date.day != 1:
        return (
            "A date known to the month is stored as YYYY-MM-01 "
            f"({date.year:04d}-{date.month:02d}-01), not {date.isoformat()}."
        )
    return None


def contradiction_message(precision: object, spelled: str) -> str:
    """A precision sent beside a date whose spelling (YYYY, YYYY-MM) gives another."""
    return f'"{precision}" contradicts publication_date, which gives the {spelled} only.'


# --- the spellings an import file may use --------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
# A year of one to four digits; ".0" after it is a spreadsheet's number format (2008.0).
_YEAR_NUMBER = re.compile(r"(?P<year>[0-9]{1,4})(?:\.0+)?")
_NEGATIVE_YEAR = re.compile(r"-[0-9]{1,4}(?:\.0+)?")
# English month names, spelled out or abbreviated (a full stop allowed): "July 1968",
# "14 July 1968", "July 14, 1968".
_MONTH_YEAR = re.compile(r"(?P<month>[A-Za-z]+)\.?,? +(?P<year>[0-9]{4})")
_DAY_MONTH_YEAR = re.compile(r"(?P<day>[0-9]{1,2}) +(?P<month>[A-Za-z]+)\.?,? +(?P<year>[0-9]{4})")
_MONTH_DAY_YEAR = re.compile(r"(?P<month>[A-Za-z]+)\.? +(?P<day>[0-9]{1,2}),? +(?P<year>[0-9]{4})")
# Day and month in numbers, either order: only an explicit --date-format can tell which.
_NUMERIC_DAY_MONTH = re.compile(r"[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-][0-9]{2,4}")

BCE_MESSAGE = "Years before the Common Era cannot be stored: dates start at year 1 (0001-01-01)."
YEAR_ZERO_MESSAGE = "There is no year 0 (1 BCE is followed by 1 CE); dates start at 0001-01-01."
AMBIGUOUS_MESSAGE = (
    "A day and a month in numbers are not guessed (01/02/1818: 1 February or January 2?); "
    "say which comes first with --date-format, e.g. --date-format '%d/%m/%Y' or '%m/%d/%Y'."
)
IMPORT_DATE_MESSAGE = (
    "Enter a date as YYYY-MM-DD, YYYY-MM, a year (1 to 4 digits), or with an English month "
    "name (July 1968, 14 July 1968); other spellings need --date-format."
)


def format_precision(date_format: str) -> str:
    """How precise the dates read with a strptime format are: the finest field it reads."""
    if any(directive in date_format for directive in ("%d", "%j", "%-d")):
        return DAY
    if any(directive in date_format for directive in ("%m", "%b", "%B", "%-m")):
        return MONTH
    return YEAR


def parse_import_date(text: str, *, date_format: str | None = None) -> PartialDate:
    """A date as a catalogue file spells it (``text`` already stripped); the import-only
    rules of docs/import.md ("Values"). Raises ValidationError with a message that says what
    to do.

    Never guesses the order of a day and a month written in numbers: that takes
    ``date_format`` (a strptime format), which is tried after the ISO forms.
    """
    try:
        return parse_iso_partial_date(text)
    except ValidationError:
        pass
    if date_format is not None:
        try:
            parsed = datetime.datetime.strptime(text, date_format).date()
        except ValueError:
            pass
        else:
            return _completed(parsed, format_precision(date_format))
    try:
        if match := _YEAR_NUMBER.fullmatch(text):
            if int(match["year"]) == 0:
                raise ValidationError(YEAR_ZERO_MESSAGE, code="invalid_date")
            return PartialDate(datetime.date(int(match["year"]), 1, 1), YEAR)
        if match := _MONTH_YEAR.fullmatch(text):
            month = _month(match["month"])
            if month:
                return PartialDate(datetime.date(int(match["year"]), month, 1), MONTH)
        if match := _DAY_MONTH_YEAR.fullmatch(text) or _MONTH_DAY_YEAR.fullmatch(text):
            month = _month(match["month"])
            if month:
                return PartialDate(datetime.date(int(match["year"]), month, int(match["day"])), DAY)
    except ValueError as error:  # 31 February
        raise ValidationError(IMPORT_DATE_MESSAGE, code="invalid_date") from error
    if _NEGATIVE_YEAR.fullmatch(text):
        raise ValidationError(BCE_MESSAGE, code="invalid_date")
    if date_format is None and _NUMERIC_DAY_MONTH.fullmatch(text):
        raise ValidationError(AMBIGUOUS_MESSAGE, code="invalid_date")
    if date_format is not None:
        raise ValidationError(
            f"Not a date in the --date-format {date_format!r}, nor YYYY-MM-DD.",
            code="invalid_date",
        )
    raise ValidationError(IMPORT_DATE_MESSAGE, code="invalid_date")


def _month(name: str) -> int | None:
    return _MONTHS.get(name.lower())


def _completed(date: datetime.date, precision: str) -> PartialDate:
    """``date`` as stored for ``precision``: strptime fills what a format lacks with 1."""
    if precision == YEAR:
        return PartialDate(date.replace(month=1, day=1), YEAR)
    if precision == MONTH:
        return PartialDate(date.replace(day=1), MONTH)
    return PartialDate(date, DAY)
