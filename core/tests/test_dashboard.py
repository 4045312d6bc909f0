"""The Grafana dashboard (deploy/grafana/) only charts metrics that /metrics exports."""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.test import Client

from books.tests.wsgi import connections_kept_open, request
from bookstore.wsgi import application
from core.replicas import health as replica_health
from core.replicas.tests.replicas import replica_alias
from core.tests.conftest import Samples

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "bookstore-dashboard.json"

# PromQL words that are not metric names: functions, aggregations and their modifiers.
PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "rate", "irate", "increase", "histogram_quantile",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "clamp_min", "clamp_max", "abs", "topk", "bottomk",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression (or a Grafana label_values() query)."""
    label_values = re.fullmatch(r"\s*label_values\(\s*([A-Za-z_:][\w:]*).*\)\s*", expr)
    if label_values:
        return {label_values.group(1)}
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # label values and regexes
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    return set(re.findall(r"\b[A-Za-z_:][\w:]*", expr)) - PROMQL_WORDS


def test_metric_names_are_found_in_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, view) (rate(a_bucket{job=~"$job", view=~"x.+"}'
        "[$__rate_interval]))) / sum(rate(b_total[5m]))"
    )

    assert metric_names(expr) == {"a_bucket", "b_total"}
    assert metric_names('label_values(c_total{job=~"$job"}, view)') == {"c_total"}


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    exprs = [target["expr"] for panel in panels for target in panel["targets"]]
    variables = [
        variable["query"]["query"]
        for variable in dashboard["templating"]["list"]
        if variable["type"] == "query"
    ]
    return exprs + variables


def test_the_dashboard_is_a_grafana_dashboard_with_the_promised_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = {panel["title"] for panel in dashboard["panels"]}

    assert dashboard["schemaVersion"] >= 39
    assert {
        "Requests per second by view",
        "Error ratio",
        "p50 latency by view",
        "p99 latency by view",
        "Cache hit ratio by backend",
        "Database statements per second",
        "Database time",
        "Read cache responses per second",
    } <= titles
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def crash() -> bool:
    raise RuntimeError("the database driver crashed")


@pytest.mark.django_db
def test_every_metric_in_the_dashboard_is_exported_after_some_traffic(
    scrape: Callable[[], Samples], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(raise_request_exception=False)
    client.get("/healthz")
    client.get("/no-such-page/")
    # Through the production entry point, books.hot_path (the read cache's metrics) first.
    with connections_kept_open():
        request(application, path="/books/")
    cache.get("dashboard-test-missing")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
    # With a replica configured, readiness starts its checks: their gauges are exported too.
    replica_health.reset_replica_health()
    try:
        with replica_alias("replica_1"):
            client.get("/readyz")
    finally:
        replica_health.reset_replica_health()
    monkeypatch.setattr("core.views._database_ok", crash)
    client.get("/readyz")

    exported = {name for name, _labels in scrape()}
    charted: dict[str, Any] = {
        name: expr for expr in dashboard_queries() for name in metric_names(expr)
    }

    assert len(charted) >= 10
    assert {name: expr for name, expr in charted.items() if name not in exported} == {}
