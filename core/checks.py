"""Deployment checks of our own, run by `manage.py check --deploy` beside Django's.

They catch settings that are each valid but unsafe together: a forwarded header trusted with
no proxy to set it, or limits counted per process.
"""

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.cache import caches
from django.core.cache.backends import locmem
from rest_framework.settings import api_settings


def proxy_settings_agree(**kwargs: Any) -> list[checks.CheckMessage]:
    """X-Forwarded-Proto and X-Forwarded-For are trusted only with a declared proxy."""
    messages: list[checks.CheckMessage] = []
    num_proxies = api_settings.NUM_PROXIES
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and not num_proxies:
        messages.append(
            checks.Warning(
                "SECURE_PROXY_SSL_HEADER is set but NUM_PROXIES is 0: with no proxy in front "
                "to overwrite X-Forwarded-Proto, any client can claim HTTPS.",
                hint="Set NUM_PROXIES to the proxies in front of the app (compose and "
                "Kubernetes: 1), or unset SECURE_PROXY_SSL_HEADER.",
                id="core.W001",
            )
        )
    if num_proxies is None:
        messages.append(
            checks.Warning(
                "REST_FRAMEWORK['NUM_PROXIES'] is None: DRF then takes the whole "
                "X-Forwarded-For header as the client's address, so a client that sends a new "
                "one with each request escapes every rate limit.",
                hint="Set NUM_PROXIES: 0 without a proxy, else the number of proxies in front.",
                id="core.W002",
            )
        )
    return messages


def limits_are_shared(**kwargs: Any) -> list[checks.CheckMessage]:
    """Rate limits and lockouts count in the cache: a per-process cache splits them."""
    if isinstance(caches["default"], locmem.LocMemCache):
        return [
            checks.Warning(
                "The cache is local to each process (REDIS_URL is unset): rate limits and "
                "sign-in lockouts are counted per worker, so N workers allow N times the limit.",
                hint="Set REDIS_URL in production (or run a single worker).",
                id="core.W003",
            )
        ]
    return []


def register() -> None:
    checks.register(proxy_settings_agree, checks.Tags.security, deploy=True)
    checks.register(limits_are_shared, checks.Tags.security, deploy=True)
