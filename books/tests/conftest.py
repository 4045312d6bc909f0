"""Fixtures shared by the read cache's tests: Django behind the hot path, counted."""

from collections.abc import Iterator
from typing import Any

import pytest

from books.hot_path import CachedReads
from books.tests.wsgi import CountingDjango, connections_kept_open


@pytest.fixture
def django() -> CountingDjango:
    """Django's WSGI application, counting the requests that reach it."""
    return CountingDjango()


@pytest.fixture
def hot_path(settings: Any, django: CountingDjango) -> Iterator[CachedReads]:
    """The read cache's WSGI middleware, on, in front of ``django``."""
    settings.READ_CACHE_ENABLED = True
    with connections_kept_open():
        yield CachedReads(django)
