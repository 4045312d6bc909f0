"""HTTP conditional requests (RFC 9110 section 13): entity tags and their comparison."""

from django.utils.http import parse_etags
from rest_framework import status
from rest_framework.exceptions import APIException


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource has changed since you read it; fetch it again and retry."
    default_code = "precondition_failed"


def if_match_passes(header: str | None, etag: str) -> bool:
    """If-Match uses the strong comparison: a weak tag never matches. No header passes."""
    if header is None:
        return True
    tags = parse_etags(header)
    return tags == ["*"] or etag in tags


def if_none_match_hits(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison: ``W/"x"`` matches ``"x"``."""
    if not header:
        return False
    tags = parse_etags(header)
    return tags == ["*"] or etag.removeprefix("W/") in {tag.removeprefix("W/") for tag in tags}
