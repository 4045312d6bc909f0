"""Reads from a replica, writes to the primary, and every client sees its own writes.

The rules, in the order they are applied to a read (`ReplicaRouter.db_for_read`):

1. Accounts, tokens, sessions and idempotency records are read from the primary: a revoked
   token or a new password must take effect at once, and a retry must find its first try.
   Only the catalogue (the `books` app) is read from replicas.
2. A read inside a transaction, or one that follows a write in the same request (any request
   that is not GET, HEAD or OPTIONS), goes to the primary.
3. So do the reads of a user who wrote within READ_YOUR_WRITES_SECONDS: each write leaves a
   short-lived marker in Redis under the user's id, which every instance sees.
4. So do the reads that fill the shared read cache (books.hot_path): the cache must never keep
   a page older than the last write it has been told about.
5. Otherwise a replica that core.replicas.health judges up and current answers (the same one
   for every read of a request, so they see one snapshot; requests are spread round-robin);
   with none, the primary.

A read request whose replica fails (down, or a query cancelled by replay) is answered again
from the primary by ReadRoutingMiddleware (core.replicas.middleware), so a replica outage costs
no failed request.
"""

import contextvars
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.models import Model
from django.http import HttpRequest

from core.replicas.health import PRIMARY, get_replica_health

logger = structlog.stdlib.get_logger(__name__)

#: The apps whose rows are only read from the primary (rule 1).
PRIMARY_ONLY_APPS = frozenset({"auth", "knox", "sessions", "core", "admin", "contenttypes"})
#: A WSGI environ key: set by books.hot_path on a request whose response it will cache.
READ_FROM_PRIMARY_ENVIRON_KEY = "bookstore.read_from_primary"
_MARKER_PREFIX = "read-your-writes:"
# A marker's value; a cache that failed answers None, which is not this.
_MARKER = 1
_ABSENT = object()


@dataclass
class ReadScope:
    """What the router knows about the request being served."""

    primary: bool = False
    #: The request, whose user is looked up on its first catalogue read (rule 3): by then
    #: DRF has authenticated it.
    request: HttpRequest | None = None
    user_checked: bool = False
    #: The replica this request reads from: one per request, so its reads see one snapshot.
    replica: str | None = None
    replicas_failed: set[str] = field(default_factory=set)
    #: Set once the request is being answered again from the primary.
    retried: bool = False

    def answer_again_from_primary(self) -> None:
        self.primary = True
        self.retried = True
        self.replica = None
        self.replicas_failed.clear()


_scope: contextvars.ContextVar[ReadScope | None] = contextvars.ContextVar(
    "read_scope", default=None
)
_round_robin = itertools.count()


@contextmanager
def read_scope(*, primary: bool = False, request: HttpRequest | None = None) -> Iterator[ReadScope]:
    """The routing state of one request (or one unit of work outside a request)."""
    scope = ReadScope(primary=primary, request=request)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def current_scope() -> ReadScope | None:
    return _scope.get()


@contextmanager
def reads_from_primary() -> Iterator[None]:
    """Within this block, every read goes to the primary (a job that must see everything)."""
    with read_scope(primary=True):
        yield


# --- read-your-writes ---------------------------------------------------------------------


def _marker_key(user_id: Any) -> str:
    return f"{_MARKER_PREFIX}{user_id}"


def note_write(user_id: Any) -> None:
    """Send `user_id`'s reads to the primary for READ_YOUR_WRITES_SECONDS, on every instance.

    If Redis cannot take the marker, that user's next read on another instance may come from
    a replica that has not replayed the write yet, for at most REPLICA_MAX_LAG_SECONDS.
    """
    cache.set(_marker_key(user_id), _MARKER, timeout=settings.READ_YOUR_WRITES_SECONDS)


def wrote_recently(user_id: Any) -> bool:
    """Whether `user_id` wrote within the window. Unknown (the cache failed) counts as yes."""
    found = cache.get(_marker_key(user_id), _ABSENT)
    return found is not _ABSENT  # _MARKER, or None from a cache that failed


def note_failed_connections() -> None:
    """Record, for the request being served, the replicas whose connection just failed.

    Nothing once the request is being answered again from the primary: that failure is the
    primary's, reported as any other.
    """
    scope = _scope.get()
    if scope is None or scope.retried:
        return
    if scope.replica is not None and connections[scope.replica].errors_occurred:
        scope.replicas_failed.add(scope.replica)


# --- the router ---------------------------------------------------------------------------


class ReplicaRouter:
    """Django's database router for a primary with read replicas (see the module's rules)."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        if model._meta.app_label in PRIMARY_ONLY_APPS:
            return PRIMARY
        instance = hints.get("instance")
        if instance is not None and instance._state.db:
            return str(instance._state.db)  # related rows from where their parent came
        scope = _scope.get()
        if scope is None or scope.primary or connections[PRIMARY].in_atomic_block:
            return PRIMARY
        if not scope.user_checked:
            scope.user_checked = True
            user = getattr(scope.request, "user", None)
            if user is not None and user.is_authenticated and wrote_recently(user.pk):
                scope.primary = True
                return PRIMARY
        healthy = get_replica_health().healthy()
        if scope.replica in healthy:
            return scope.replica
        if not healthy:
            return PRIMARY
        scope.replica = healthy[next(_round_robin) % len(healthy)]
        return scope.replica

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True  # one database, copied: a row on a replica is the primary's row

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY
