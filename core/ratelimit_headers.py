"""The IETF RateLimit header fields: each limit a response was counted against, and what is
left of it, so a client can pace itself instead of finding the limit by its 429.

draft-ietf-httpapi-ratelimit-headers (revision 10) defines two Structured Field lists, one
item per quota policy, named by a String:

    RateLimit-Policy: "anon";q=600;w=60
    RateLimit: "anon";r=597;t=41

``q`` is the quota, ``w`` its window in seconds, ``r`` what is left of it and ``t`` the seconds
until the window ends and the quota is whole again. Every policy a request was counted
against is listed (the draft allows several), so a signed-in write shows both its request
rate and the daily write quota; a client paces itself on the smallest ``r``.

Both paths that count requests build the fields here: the throttles (core.throttling,
books.throttling) leave each count on the request (``note_quota``) for
``RateLimitHeadersMiddleware``, and books.hot_path calls ``ratelimit_fields`` with the count
its cache lookup returned; both make the Quota with core.throttling's ``counted_quota``.
"""

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

#: The fields' names, as the draft spells them.
POLICY_HEADER = "RateLimit-Policy"
STATE_HEADER = "RateLimit"
#: Where a request keeps the quotas it was counted against, by policy name.
QUOTAS_KEY = "bookstore.ratelimit_quotas"


@dataclass(frozen=True)
class Quota:
    """One limit a request was counted against: ``used`` of ``limit`` in a fixed window of
    ``window`` seconds that ends at ``resets_at`` (a Unix time)."""

    policy: str
    limit: int
    window: int
    used: int
    resets_at: float

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def _policy_name(name: str) -> str:
    """``name`` as a Structured Field String (RFC 9651): quoted, with \\ and " escaped."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ratelimit_fields(quotas: Iterable[Quota], now: float | None = None) -> dict[str, str]:
    """The RateLimit-Policy and RateLimit fields for ``quotas`` ({} when there are none)."""
    quotas = sorted(quotas, key=lambda quota: quota.policy)
    if not quotas:
        return {}
    now = time.time() if now is None else now
    policies = ", ".join(
        f"{_policy_name(quota.policy)};q={quota.limit};w={quota.window}" for quota in quotas
    )
    states = ", ".join(
        f"{_policy_name(quota.policy)};r={quota.remaining};"
        f"t={max(0, min(quota.window, math.ceil(quota.resets_at - now)))}"
        for quota in quotas
    )
    return {POLICY_HEADER: policies, STATE_HEADER: states}


def note_quota(meta: dict[str, object], quota: Quota) -> None:
    """Keep ``quota`` on the request (its META) for the response's fields. A request answered
    twice (a replica's failure, answered again from the primary) keeps one per policy."""
    quotas = meta.setdefault(QUOTAS_KEY, {})
    assert isinstance(quotas, dict)
    quotas[quota.policy] = quota


class RateLimitHeadersMiddleware:
    """Adds the RateLimit fields to every response whose request a throttle counted: 2xx,
    304, 4xx and the 429 alike."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        quotas = request.META.get(QUOTAS_KEY)
        if quotas:
            for name, value in ratelimit_fields(quotas.values()).items():
                response[name] = value
        return response
