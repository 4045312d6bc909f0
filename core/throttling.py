"""DRF throttles that count in fixed windows: one cache increment per request.

DRF's own SimpleRateThrottle keeps every request's timestamp in one cache value, read and
written back whole on each request, so its cost grows with the rate (a 10,000/min limit is a
10,000-item list per request) and two workers racing on it lose counts. Here a request is one
atomic INCR on a counter named for the client and the current window, which Redis shares
across workers and hosts. A fixed window lets a client spend up to twice the rate across a
window boundary; for abuse limits that is the accepted trade (see docs/performance.md).

books.hot_path counts anonymous reads it answers from the cache against the same counter
(`anon_counter_key`), so a client's limit is one limit whichever path serves it.

Failures are limited apart from requests (`FailureLimit`): wrong passwords per account and per
address (sign-in, the admin's included) and bad tokens per address, so that guessing is slow
however many addresses the guesser has, and a bad guess is refused before it costs a hash or a
query.
"""

import hashlib
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework import throttling
from rest_framework.request import Request

from core.ratelimit_headers import Quota, note_quota

#: Where books.hot_path leaves the anon count of a request it counted and passed on.
HOT_PATH_COUNT_KEY = "bookstore.anon_count"
#: Where a request keeps the counts it has been given, by counter.
COUNTED_KEY = "bookstore.throttle_counts"


def count_hit(key: str, duration: int) -> int | None:
    """Count one request against ``key`` (a counter living ``duration`` seconds).

    Returns the count so far in the window, or None when the cache cannot be reached: then
    the request is let through, since a limit that fails closed would turn a cache outage
    into an API outage.
    """
    try:
        return int(cache.incr(key))
    except ValueError:  # the window's first request: the counter does not exist yet
        if cache.add(key, 1, timeout=duration):
            return 1
        try:
            return int(cache.incr(key))  # another worker created it meanwhile
        except ValueError:
            return None
    except TypeError:  # django-redis with IGNORE_EXCEPTIONS: the server is unreachable
        return None


def window_of(duration: int, now: float | None = None) -> tuple[int, float]:
    """The current window's number and the time it ends."""
    now = time.time() if now is None else now
    window = int(now // duration)
    return window, (window + 1) * duration


def counted_quota(*, policy: str, limit: int, window: int, used: int) -> Quota:
    """The quota a count taken now stands at, for the RateLimit fields (core.ratelimit_headers),
    whichever path took it (a throttle, or books.hot_path)."""
    _, resets_at = window_of(window)
    return Quota(policy=policy, limit=limit, window=window, used=used, resets_at=resets_at)


class FixedWindowThrottle(throttling.SimpleRateThrottle):
    """SimpleRateThrottle's rates, scopes and keys, counted by ``count_hit``."""

    window_ends_at: float = 0.0
    num_requests: int  # set from the rate by SimpleRateThrottle
    duration: int

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        window, self.window_ends_at = window_of(self.duration)
        counter = f"{key}:{window}"
        # Counted once per request, even when it is answered twice (a read whose replica
        # failed is answered again from the primary: core.replicas.middleware).
        counted = request.META.setdefault(COUNTED_KEY, {})
        if counter not in counted:
            counted[counter] = count_hit(counter, self.duration)
        count = counted[counter]
        self.note_count(request, count)
        return count is None or count <= self.num_requests

    def note_count(self, request: Request, count: int | None) -> None:
        """Leave this count on the request for its RateLimit fields; an uncounted request
        (the cache unreachable) has none to tell."""
        if count is not None:
            quota = counted_quota(
                policy=str(self.scope), limit=self.num_requests, window=self.duration, used=count
            )
            note_quota(request.META, quota)

    def wait(self) -> float | None:
        return max(1.0, math.ceil(self.window_ends_at - time.time()))


class AnonRateThrottle(FixedWindowThrottle, throttling.AnonRateThrottle):
    """Clients without credentials, by address (X-Forwarded-For under NUM_PROXIES)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        # books.hot_path already counted this request (and passed it on): use its count.
        counted = request.META.get(HOT_PATH_COUNT_KEY)
        if counted is not None and self.rate is not None:
            _, self.window_ends_at = window_of(self.duration)
            self.note_count(request, counted)
            return bool(counted <= self.num_requests)
        return super().allow_request(request, view)


class UserRateThrottle(FixedWindowThrottle, throttling.UserRateThrottle):
    """Signed-in users, by user id. Anonymous clients are the anon throttle's alone."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)


class ScopedRateThrottle(throttling.ScopedRateThrottle, FixedWindowThrottle):
    """Views that name a throttle_scope (sign-in: "auth"), by user or address.

    DRF's class reads the view's scope and rate first, then counts through ours."""


class _EnvironRequest:
    """Enough of a request for DRF's get_ident: the WSGI environ as META and headers."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.META = environ
        self.headers = {"x-forwarded-for": environ.get("HTTP_X_FORWARDED_FOR")}


_anon = AnonRateThrottle.__new__(AnonRateThrottle)  # get_ident only: no rate is read


def client_address(request: HttpRequest | Request | _EnvironRequest) -> str:
    """The address every limit counts a client by: the direct peer (REMOTE_ADDR), or, behind
    NUM_PROXIES declared proxies, the X-Forwarded-For entry the outermost of them appended."""
    return str(_anon.get_ident(request) or "")  # type: ignore[arg-type]


def anon_counter_key(environ: dict[str, Any], duration: int, now: float | None = None) -> str:
    """The cache key AnonRateThrottle counts this anonymous WSGI request under, now."""
    ident = client_address(_EnvironRequest(environ))
    window, _ = window_of(duration, now)
    return f"{_anon.cache_format % {'scope': 'anon', 'ident': ident}}:{window}"


class FailureLimit:
    """At most ``limit`` failures per key in a fixed window of ``window_setting`` seconds; past
    it the key is locked until the window ends.

    Only failures are counted (a wrong password, a bad token), so a client that succeeds is
    never slowed; the lock is checked before the attempt, so a locked guess costs no password
    hash and no query, and its answer is the same whether or not the guess was right. Keys are
    digests: a username or header of any length is one short cache key.
    """

    def __init__(self, scope: str, *, limit_setting: str, window_setting: str) -> None:
        self.scope = scope
        self.limit_setting = limit_setting
        self.window_setting = window_setting

    @property
    def limit(self) -> int:
        return int(getattr(settings, self.limit_setting))

    @property
    def window(self) -> int:
        return int(getattr(settings, self.window_setting))

    def _counter(self, key: str, now: float | None = None) -> tuple[str, float]:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        window, ends_at = window_of(self.window, now)
        return f"failures:{self.scope}:{digest}:{window}", ends_at

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again, or None when it may now."""
        counter, ends_at = self._counter(key)
        try:
            failures = cache.get(counter)
        except TypeError:  # unreachable cache (see count_hit): let the attempt through
            return None
        if failures is None or int(failures) < self.limit:
            return None
        return max(1, math.ceil(ends_at - time.time()))

    def count_failure(self, key: str) -> None:
        count_hit(self._counter(key)[0], self.window)


#: Wrong passwords per account (the username as given, case-folded), from any address.
SIGN_IN_FAILURES_PER_USERNAME = FailureLimit(
    "sign-in-username",
    limit_setting="SIGN_IN_FAILURE_LIMIT",
    window_setting="SIGN_IN_FAILURE_WINDOW_SECONDS",
)
#: Wrong passwords per client address, whatever accounts it tries.
SIGN_IN_FAILURES_PER_ADDRESS = FailureLimit(
    "sign-in-address",
    limit_setting="SIGN_IN_FAILURE_LIMIT",
    window_setting="SIGN_IN_FAILURE_WINDOW_SECONDS",
)
#: Tokens refused per client address.
TOKEN_FAILURES_PER_ADDRESS = FailureLimit(
    "token-address",
    limit_setting="TOKEN_FAILURE_LIMIT",
    window_setting="TOKEN_FAILURE_WINDOW_SECONDS",
)


def sign_in_retry_after(*, username: str, address: str) -> int | None:
    """Seconds until this account may be tried from this address again, or None: now."""
    waits = [
        SIGN_IN_FAILURES_PER_USERNAME.retry_after(username.casefold()),
        SIGN_IN_FAILURES_PER_ADDRESS.retry_after(address),
    ]
    return max((wait for wait in waits if wait is not None), default=None)


def count_sign_in_failure(*, username: str, address: str) -> None:
    SIGN_IN_FAILURES_PER_USERNAME.count_failure(username.casefold())
    SIGN_IN_FAILURES_PER_ADDRESS.count_failure(address)
