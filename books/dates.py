"""The one date format the API speaks: ISO 8601 calendar dates, YYYY-MM-DD."""

import datetime
import re

from django.core.exceptions import ValidationError

INVALID_DATE_MESSAGE = "Enter a valid date in the format YYYY-MM-DD."

# ASCII digits only: Python's and Django's parsers would also read fullwidth or Arabic-Indic
# digits, and 2020-1-1, which clients should not come to rely on.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_iso_date(value: object) -> datetime.date:
    """Parse ``YYYY-MM-DD`` strictly; raise ValidationError for anything else."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValidationError(INVALID_DATE_MESSAGE, code="invalid_date")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:  # e.g. 2021-02-30
        raise ValidationError(INVALID_DATE_MESSAGE, code="invalid_date") from error
