"""The project's cache backends, counting every read as a hit or a miss for /metrics.

They add django-prometheus's cache counters (django_cache_get_total, django_cache_get_hits_total,
django_cache_get_misses_total, django_cache_get_fail_total, labelled by backend) to Django's
LocMemCache and django-redis's RedisCache, and change nothing else. django-prometheus's own
LocMemCache is not used because it returns the default for any falsy cached value (0, "", []).
"""

from collections.abc import Iterable
from typing import Any

from django.core.cache.backends import locmem
from django.core.cache.backends.base import BaseCache
from django_prometheus.cache.metrics import (
    django_cache_get_fail_total,
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)
from django_redis import cache as django_redis_cache

# Tells a miss from a cached None or any other value.
_MISSING = object()


class CacheMetricsMixin(BaseCache):
    """Count the reads of a cache backend; `metrics_label` names the backend in the metrics."""

    metrics_label: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every series from the start, at 0: "no failures yet" is not the same as no data.
        for counter in (
            django_cache_get_total,
            django_cache_hits_total,
            django_cache_misses_total,
            django_cache_get_fail_total,
        ):
            counter.labels(backend=self.metrics_label)

    def get(self, key: Any, default: Any = None, version: int | None = None, **kwargs: Any) -> Any:
        django_cache_get_total.labels(backend=self.metrics_label).inc()
        try:
            value = super().get(key, _MISSING, version=version, **kwargs)
        except Exception:
            django_cache_get_fail_total.labels(backend=self.metrics_label).inc()
            raise
        if value is _MISSING:
            django_cache_misses_total.labels(backend=self.metrics_label).inc()
            return default
        django_cache_hits_total.labels(backend=self.metrics_label).inc()
        return value


class LocMemCache(CacheMetricsMixin, locmem.LocMemCache):
    """Django's in-process cache. Its get_many reads through get(), so it is counted there."""

    metrics_label = "locmem"


class RedisCache(CacheMetricsMixin, django_redis_cache.RedisCache):
    """django-redis's cache; get_many is one round trip, counted here key by key."""

    metrics_label = "redis"

    def get_many(self, keys: Iterable[Any], version: int | None = None, **kwargs: Any) -> Any:
        keys = list(keys)
        django_cache_get_total.labels(backend=self.metrics_label).inc(len(keys))
        try:
            found = super().get_many(keys, version=version, **kwargs)
        except Exception:
            django_cache_get_fail_total.labels(backend=self.metrics_label).inc(len(keys))
            raise
        # With IGNORE_EXCEPTIONS, a lost connection reads as None: every key missed.
        hits = len(found or {})
        django_cache_hits_total.labels(backend=self.metrics_label).inc(hits)
        django_cache_misses_total.labels(backend=self.metrics_label).inc(len(keys) - hits)
        return found
