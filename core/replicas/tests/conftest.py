"""Fixtures for the replica tests: core's log-line and /metrics fixtures, shared."""

from core.tests.conftest import json_logs, scrape

__all__ = ["json_logs", "scrape"]
