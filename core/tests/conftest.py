"""Fixtures for the observability tests: log lines as production writes them, and /metrics."""

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from core.logging import build_formatter

LogLines = Callable[[], list[dict[str, Any]]]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def json_logs() -> Iterator[LogLines]:
    """Every line logged at INFO or above during the test, rendered by the production JSON
    formatter and parsed back: call the fixture for the lines so far."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(build_formatter(log_format="json"))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(previous_level)


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
