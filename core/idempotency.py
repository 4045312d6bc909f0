"""Safe retries: a POST sent with an ``Idempotency-Key`` header takes effect at most once.

A client that may not have seen the answer to a POST (a timeout, a dropped connection) sends
it again with the same key and the same body, and gets the first response again (status,
body, ``Location`` and ``ETag``, plus ``Idempotent-Replayed: true``) while nothing new is
created. The rules, after the IETF draft "The Idempotency-Key HTTP Header Field":

- A key is 1 to 255 printable ASCII characters (a UUID is a good choice); anything else is a
  400. Keys are scoped per user: two users may use the same key without meeting.
- The body is compared as canonical JSON (keys sorted, whitespace dropped), so a client that
  re-serialises its retry still matches. The same key with another body, or on another
  method or path, is a 422: the client has a bug, and guessing would be worse.
- Final outcomes are kept, 4xx included: a retry of a request that was invalid gets the same
  400 (its answer was decided). A 5xx, an answer that invites a retry (408, 409, 425, 429) or
  an unexpected exception keeps nothing and rolls the request's writes back, so the retry
  runs anew.
- Records live in the database (``core.models.IdempotencyRecord``), so they survive restarts
  and are shared by every worker, for IDEMPOTENCY_KEY_TTL_HOURS (default 24). Older ones are
  ignored and replaced; ``manage.py purge_idempotency_keys`` deletes them (run it from cron).

Concurrent requests with one key: the record is inserted in the same transaction as the
request's own writes and completed before it commits, so the unique (user, key) constraint
makes the database itself hold a duplicate until the first request has finished. On
PostgreSQL the duplicate's INSERT waits on the first one's uncommitted row; on SQLite every
write transaction takes the write lock at BEGIN (``transaction_mode=IMMEDIATE``). Either way
the duplicate then finds the completed record and replays it, or, if the first request failed
and rolled back, runs itself. A record is therefore never seen half-done, and the request's
writes and its record commit or roll back together: no "in progress" state, no polling, and no
"still processing" 409. A duplicate waits at most as long as the first request runs (and no
longer than SQLite's busy timeout, 20 s in our settings).
"""

import datetime
import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from core.models import IDEMPOTENCY_KEY_MAX_LENGTH, IdempotencyRecord

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
#: Response headers stored with a record and sent again with its replays.
REPLAYED_RESPONSE_HEADERS = ("Location", "ETag")
#: Answers that invite a retry (timeout, conflict, too early, throttled): like a 5xx, they are
#: not kept, so the retry runs anew.
RETRYABLE_STATUS_CODES = frozenset({408, 409, 425, 429})
DEFAULT_TTL_HOURS = 24

_VALID_KEY = re.compile(rf"[\x20-\x7e]{{1,{IDEMPOTENCY_KEY_MAX_LENGTH}}}")


class InvalidIdempotencyKey(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = (
        f"The {IDEMPOTENCY_KEY_HEADER} header must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} "
        "printable ASCII characters; a UUID is a good choice."
    )
    default_code = "invalid_idempotency_key"


class IdempotencyKeyReused(APIException):
    """The key belongs to a different request: a client bug, answered 422 and not guessed at."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        f"This {IDEMPOTENCY_KEY_HEADER} was already used for a different request; "
        "send a new key with each new request."
    )
    default_code = "idempotency_key_reused"


def idempotency_key_ttl() -> datetime.timedelta:
    """How long a key's outcome is kept and replayed (IDEMPOTENCY_KEY_TTL_HOURS, default 24)."""
    return datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def expired_before(now: datetime.datetime | None = None) -> datetime.datetime:
    """Records created before this are past the TTL: never replayed, free to replace or purge."""
    return (now or timezone.now()) - idempotency_key_ttl()


def validate_idempotency_key(key: str) -> str:
    """Return ``key`` if it is 1 to 255 printable ASCII characters; else InvalidIdempotencyKey."""
    if not _VALID_KEY.fullmatch(key):
        raise InvalidIdempotencyKey()
    return key


def request_fingerprint(data: Any) -> str:
    """SHA-256 of a parsed JSON body in canonical form: key order and whitespace don't count."""
    canonical = json.dumps(
        data, cls=JSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def is_final(status_code: int) -> bool:
    """Whether a response is the request's decided outcome, kept and replayed (4xx too)."""
    return status_code < 500 and status_code not in RETRYABLE_STATUS_CODES


def purge_expired_records(*, now: datetime.datetime | None = None) -> int:
    """Delete the records older than the TTL (they are never replayed); return how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=expired_before(now)).delete()
    return deleted


IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_KEY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    pattern=f"^[ -~]{{1,{IDEMPOTENCY_KEY_MAX_LENGTH}}}$",
    description=(
        "Makes the request safe to retry. A retry with the same key and the same body "
        f"within {DEFAULT_TTL_HOURS} hours (by default) gets the first response again (status, "
        f"body, `Location`, `ETag`, plus `{REPLAYED_HEADER}: true`) and creates nothing; the "
        "same key with a different body is a 422. Keys are per user: use a new one (a UUID) "
        "for each new request. Concurrent requests with one key take effect once."
    ),
)

ViewMethod = TypeVar("ViewMethod", bound=Callable[..., Response])


def idempotent(view_method: ViewMethod) -> ViewMethod:
    """Make a DRF view method (e.g. ``create``) honour the Idempotency-Key header.

    Without the header, or for an anonymous user (keys are scoped per user), the method runs
    as before. The OpenAPI schema of the operation documents the header.
    """

    @functools.wraps(view_method)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
        user = request.user
        if key is None or not user.is_authenticated:
            return view_method(view, request, *args, **kwargs)
        claim = _Claim(
            user_id=user.pk,
            key=validate_idempotency_key(key),
            method=request.method or "",
            path=request.path,
            fingerprint=request_fingerprint(request.data),
        )
        # Most retries come after the first request finished: answer them without a lock.
        record = claim.find_fresh_record()
        if record is not None:
            return claim.replay(record)
        with transaction.atomic():
            record, is_new = claim.insert_or_find_winner()
            if not is_new:
                return claim.replay(record)
            try:
                response = view_method(view, request, *args, **kwargs)
            except Exception as error:
                response = view.handle_exception(error)  # re-raises what is not an API error
            # Headers the view adds last (BookViewSet's ETag) are part of what is replayed;
            # DRF finalising the response a second time changes nothing.
            response = view.finalize_response(request, response, *args, **kwargs)
            if not is_final(response.status_code):
                transaction.set_rollback(True)  # keep nothing, so the retry runs anew
                return response
            claim.complete(record, response)
        return response

    wrapper.honours_idempotency_key = True  # type: ignore[attr-defined]
    return cast(ViewMethod, extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])(wrapper))


def honours_idempotency_key(view: APIView, method: str) -> bool:
    """Whether ``view`` handles ``method`` with an @idempotent view method (for the schema)."""
    handler_name = getattr(view, "action", None) or method.lower()
    return bool(getattr(getattr(view, handler_name, None), "honours_idempotency_key", False))


class _Claim:
    """One request's key, and what identifies the request it may be replayed to."""

    def __init__(self, *, user_id: Any, key: str, method: str, path: str, fingerprint: str) -> None:
        self.user_id = user_id
        self.key = key
        self.method = method
        self.path = path
        self.fingerprint = fingerprint

    def find_fresh_record(self) -> IdempotencyRecord | None:
        return IdempotencyRecord.objects.filter(
            user_id=self.user_id, key=self.key, created_at__gte=expired_before()
        ).first()

    def insert_or_find_winner(self) -> tuple[IdempotencyRecord, bool]:
        """Insert this request's record (True), or return the one that beat it (False).

        Must run in a transaction: the row stays invisible to others until it commits.
        """
        try:
            with transaction.atomic():  # a savepoint: losing leaves the transaction usable
                IdempotencyRecord.objects.filter(
                    user_id=self.user_id, key=self.key, created_at__lt=expired_before()
                ).delete()
                record = IdempotencyRecord.objects.create(
                    user_id=self.user_id,
                    key=self.key,
                    method=self.method,
                    path=self.path,
                    request_fingerprint=self.fingerprint,
                )
                return record, True
        except IntegrityError:
            # A concurrent request with this key committed first (READ COMMITTED sees it now).
            winner = self.find_fresh_record()
            if winner is None:
                raise
            return winner, False

    def complete(self, record: IdempotencyRecord, response: Response) -> None:
        if not isinstance(response, Response):
            raise TypeError("An @idempotent view method must return a DRF Response.")
        record.status_code = response.status_code
        record.response_body = json.dumps(response.data, cls=JSONEncoder, ensure_ascii=False)
        record.response_headers = {
            name: response[name] for name in REPLAYED_RESPONSE_HEADERS if response.has_header(name)
        }
        record.save(update_fields=["status_code", "response_body", "response_headers"])

    def replay(self, record: IdempotencyRecord) -> Response:
        """The stored response again, or a 422 if the key was used for another request."""
        if (record.method, record.path) != (self.method, self.path):
            raise IdempotencyKeyReused(
                f"This {IDEMPOTENCY_KEY_HEADER} was already used for {record.method} "
                f"{record.path}; send a new key with each new request."
            )
        if record.request_fingerprint != self.fingerprint:
            raise IdempotencyKeyReused(
                f"This {IDEMPOTENCY_KEY_HEADER} was already used with a different request "
                "body; send a new key with each new request."
            )
        headers = {**record.response_headers, REPLAYED_HEADER: "true"}
        return Response(
            json.loads(record.response_body), status=record.status_code, headers=headers
        )
