"""Fixtures for the observability tests: /metrics (json_logs, the log lines as production
writes them, is in the root conftest.py for every app's tests)."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

LogLines = Callable[[], list[dict[str, Any]]]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_samples(exposition: str) -> Samples:
    """{(sample name, labels): value} of a Prometheus text exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when absent (a labelled series appears on its first increment)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def scrape() -> Callable[[], Samples]:
    """GET /metrics as Prometheus on the same host would, parsed."""

    def get() -> Samples:
        response = Client().get("/metrics")
        assert response.status_code == 200, response.content
        return parse_samples(response.content.decode())

    return get
