"""Fixtures for the replica tests: core's /metrics fixture, shared."""

from core.tests.conftest import scrape

__all__ = ["scrape"]
