"""The daily write quota: books a user may write a day, beside the request rate.

The request rate (core.throttling) bounds how fast a client calls; this bounds how much an
account can change in a day, so a leaked editor token cannot rewrite the catalogue overnight
(issue 13, finding 6). Each book written counts one: a bulk create of 1,000 books counts
1,000, since that is what it changes. WRITE_QUOTA_PER_DAY sets it (0: no quota).
"""

from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request

from core.throttling import FixedWindowThrottle, window_of

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def count_writes(key: str, amount: int, duration: int) -> int | None:
    """Add ``amount`` to the counter ``key`` (living ``duration`` seconds); the new total, or
    None when the cache cannot be reached (then the write is let through, as for the rates)."""
    try:
        return int(cache.incr(key, amount))
    except ValueError:  # the window's first write
        if cache.add(key, amount, timeout=duration):
            return amount
        try:
            return int(cache.incr(key, amount))
        except ValueError:
            return None
    except TypeError:  # django-redis with IGNORE_EXCEPTIONS: the server is unreachable
        return None


class WriteQuotaThrottle(FixedWindowThrottle):
    """Books written per signed-in user per day (UTC), counted in the shared cache."""

    scope = "writes"

    def get_rate(self) -> str | None:
        quota = int(settings.WRITE_QUOTA_PER_DAY)
        return f"{quota}/day" if quota > 0 else None

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.method in SAFE_METHODS or not request.user.is_authenticated:
            return None  # reads are the rates' alone; anonymous writes are refused anyway
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}

    def allow_request(self, request: Request, view: Any) -> bool:
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)  # type: ignore[assignment]
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        window, self.window_ends_at = window_of(self.duration)
        count = count_writes(f"{key}:{window}", self._books_written(request), self.duration)
        self.note_count(request, count)
        return count is None or count <= self.num_requests

    @staticmethod
    def _books_written(request: Request) -> int:
        """A bulk create writes one book per item; every other write one book. A batch over
        BULK_CREATE_MAX_ITEMS is refused unread (a 400), so it counts one."""
        if request.method == "POST":
            data = request.data
            if isinstance(data, list) and len(data) <= settings.BULK_CREATE_MAX_ITEMS:
                return max(1, len(data))
        return 1
