"""DRF throttles that count in fixed windows: one cache increment per request.

DRF's own SimpleRateThrottle keeps every request's timestamp in one cache value, read and
written back whole on each request, so its cost grows with the rate (a 10,000/min limit is a
10,000-item list per request) and two workers racing on it lose counts. Here a request is one
atomic INCR on a counter named for the client and the current window, which Redis shares
across workers and hosts. A fixed window lets a client spend up to twice the rate across a
window boundary; for abuse limits that is the accepted trade (see docs/performance.md).

books.hot_path counts anonymous reads it answers from the cache against the same counter
(`anon_counter_key`), so a client's limit is one limit whichever path serves it.
"""

import math
import time
from typing import Any

from django.core.cache import cache
from rest_framework import throttling
from rest_framework.request import Request

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
        # failed is answered again from the primary: core.middleware.ReadRoutingMiddleware).
        counted = request.META.setdefault(COUNTED_KEY, {})
        if counter not in counted:
            counted[counter] = count_hit(counter, self.duration)
        count = counted[counter]
        return count is None or count <= self.num_requests

    def wait(self) -> float | None:
        return max(1.0, math.ceil(self.window_ends_at - time.time()))


class AnonRateThrottle(FixedWindowThrottle, throttling.AnonRateThrottle):
    """Clients without credentials, by address (X-Forwarded-For under NUM_PROXIES)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        # books.hot_path already counted this request (and passed it on): use its count.
        counted = request.META.get(HOT_PATH_COUNT_KEY)
        if counted is not None and self.rate is not None:
            _, self.window_ends_at = window_of(self.duration)
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


def anon_counter_key(environ: dict[str, Any], duration: int, now: float | None = None) -> str:
    """The cache key AnonRateThrottle counts this anonymous WSGI request under, now."""
    ident = _anon.get_ident(_EnvironRequest(environ))  # type: ignore[arg-type]
    window, _ = window_of(duration, now)
    return f"{_anon.cache_format % {'scope': 'anon', 'ident': ident}}:{window}"
