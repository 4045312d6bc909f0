"""/metrics: requests by view, method and status with their latency, database statements and
time, cache hits and misses; served only to allowed addresses or with the metrics token."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.test import Client
from prometheus_client import CONTENT_TYPE_LATEST

from core.tests.conftest import Samples, sample

Scrape = Callable[[], Samples]

RESPONSES = "django_http_responses_total_by_status_view_method_total"
LATENCY = "django_http_requests_latency_seconds_by_view_method"
LATENCY_BUCKETS = {
    "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5", "5.0", "7.5",
    "10.0", "25.0", "50.0", "75.0", "+Inf",
}  # fmt: skip


def change(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return sample(after, name, **labels) - sample(before, name, **labels)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include these."""
    wanted = set(labels.items())
    return sum(value for (key, pairs), value in samples.items() if key == name and wanted <= pairs)


def total_change(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


# --- requests -------------------------------------------------------------------------


def test_responses_are_counted_by_view_method_and_status(client: Client, scrape: Scrape) -> None:
    before = scrape()
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no-such-page/")
    after = scrape()

    assert change(before, after, RESPONSES, view="healthz", method="GET", status="200") == 2
    assert change(before, after, RESPONSES, view="<unnamed view>", method="GET", status="404") == 1


def test_latency_is_a_histogram_by_view_method_and_status(client: Client, scrape: Scrape) -> None:
    before = scrape()
    client.get("/healthz")
    client.get("/no-such-page/")
    after = scrape()

    labels = {"view": "healthz", "method": "GET", "status": "200"}
    assert change(before, after, f"{LATENCY}_count", **labels) == 1
    assert change(before, after, f"{LATENCY}_bucket", le="+Inf", **labels) == 1
    assert sample(after, f"{LATENCY}_sum", **labels) > 0
    buckets = {
        dict(pairs)["le"]
        for name, pairs in after
        if name == f"{LATENCY}_bucket" and set(labels.items()) <= pairs
    }
    assert buckets == LATENCY_BUCKETS
    assert change(before, after, f"{LATENCY}_count", view="<unnamed view>", method="GET",
                  status="404") == 1  # fmt: skip


def crash() -> bool:
    raise RuntimeError("the database driver crashed")


def test_a_view_that_raises_is_timed_once_as_its_error_response(
    client: Client, scrape: Scrape, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.views._database_ok", crash)

    before = scrape()
    response = client.get("/readyz")
    after = scrape()

    assert response.status_code == 500
    assert change(before, after, f"{LATENCY}_count", view="readyz", method="GET", status="500") == 1
    assert total_change(before, after, f"{LATENCY}_count", view="readyz") == 1
    assert (
        change(before, after, "django_http_exceptions_total_by_type_total", type="RuntimeError")
        == 1
    )
    assert change(before, after, "django_http_exceptions_total_by_view_total", view="readyz") == 1


# --- the database ---------------------------------------------------------------------


def run(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


@pytest.mark.django_db
def test_database_statements_are_counted_and_timed(scrape: Scrape) -> None:
    labels = {"alias": "default", "vendor": connection.vendor}

    before = scrape()
    run("SELECT 1")
    run("SELECT 2")
    after = scrape()

    assert change(before, after, "django_db_execute_total", **labels) == 2
    assert change(before, after, "django_db_query_duration_seconds_count", **labels) == 2
    assert sample(after, "django_db_query_duration_seconds_sum", **labels) > sample(
        before, "django_db_query_duration_seconds_sum", **labels
    )


@pytest.mark.django_db
def test_database_errors_are_counted_by_type(scrape: Scrape) -> None:
    labels = {"alias": "default", "vendor": connection.vendor}

    before = scrape()
    with pytest.raises(DatabaseError), transaction.atomic():
        run("SELECT * FROM no_such_table")
    after = scrape()

    assert total_change(before, after, "django_db_errors_total", **labels) == 1


@pytest.mark.django_db(transaction=True)
def test_new_database_connections_are_counted(scrape: Scrape) -> None:
    labels = {"alias": "default", "vendor": connection.vendor}
    connection.close()

    before = scrape()
    run("SELECT 1")
    after = scrape()

    assert change(before, after, "django_db_new_connections_total", **labels) == 1


# --- the cache ------------------------------------------------------------------------


@pytest.fixture
def cache_key() -> Any:
    key = f"metrics-test-{uuid.uuid4().hex}"
    yield key
    cache.delete_many([key, f"{key}-other"])


def cache_counts(samples: Samples) -> dict[str, float]:
    label: str = cache.metrics_label  # type: ignore[attr-defined]
    return {
        kind: sample(samples, f"django_cache_get{kind}_total", backend=label)
        for kind in ("", "_hits", "_misses", "_fail")
    }


def cache_change(before: Samples, after: Samples) -> dict[str, float]:
    old, new = cache_counts(before), cache_counts(after)
    return {kind.strip("_") or "gets": new[kind] - old[kind] for kind in new}


def test_cache_reads_are_counted_as_hits_and_misses(scrape: Scrape, cache_key: str) -> None:
    before = scrape()
    assert cache.get(cache_key) is None
    cache.set(cache_key, "value")
    assert cache.get(cache_key) == "value"
    after = scrape()

    assert cache_change(before, after) == {"gets": 2, "hits": 1, "misses": 1, "fail": 0}


@pytest.mark.parametrize("value", [0, "", [], False, None], ids=repr)
def test_a_falsy_cached_value_is_a_hit_and_is_returned(
    scrape: Scrape, cache_key: str, value: Any
) -> None:
    cache.set(cache_key, value)

    before = scrape()
    found = cache.get(cache_key, default="the default")
    after = scrape()

    assert found == value
    assert type(found) is type(value)
    assert cache_change(before, after) == {"gets": 1, "hits": 1, "misses": 0, "fail": 0}


def test_a_miss_returns_the_default(cache_key: str) -> None:
    assert cache.get(cache_key, default="the default") == "the default"


def test_get_many_counts_each_key(scrape: Scrape, cache_key: str) -> None:
    cache.set(cache_key, "value")

    before = scrape()
    found = cache.get_many([cache_key, f"{cache_key}-other"])
    after = scrape()

    assert found == {cache_key: "value"}
    assert cache_change(before, after) == {"gets": 2, "hits": 1, "misses": 1, "fail": 0}


# --- who may scrape -------------------------------------------------------------------


def assert_refused(response: Any) -> None:
    assert response.status_code == 403, response.content
    assert response["Content-Type"] == "application/json"
    assert "METRICS_ALLOWED_IPS" in response.json()["detail"]
    assert b"django_http" not in response.content


def assert_served(response: Any) -> None:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    assert b"django_http_responses_total_by_status_view_method_total" in response.content


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_loopback_may_scrape_by_default(address: str) -> None:
    assert_served(Client(REMOTE_ADDR=address).get("/metrics"))


@pytest.mark.parametrize("address", ["203.0.113.5", "2001:db8::5", "10.0.0.1", "not-an-ip", ""])
def test_any_other_address_is_refused(address: str) -> None:
    assert_refused(Client(REMOTE_ADDR=address).get("/metrics"))


def test_x_forwarded_for_is_not_trusted() -> None:
    client = Client(REMOTE_ADDR="203.0.113.5")

    assert_refused(client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1"))


def test_allowed_addresses_may_be_networks(settings: Any) -> None:
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "2001:db8::/32"]

    assert_served(Client(REMOTE_ADDR="10.20.30.40").get("/metrics"))
    assert_served(Client(REMOTE_ADDR="2001:db8::5").get("/metrics"))
    assert_refused(Client(REMOTE_ADDR="127.0.0.1").get("/metrics"))


def test_the_token_admits_any_address(settings: Any) -> None:
    settings.METRICS_TOKEN = "scrape-secret"
    client = Client(REMOTE_ADDR="203.0.113.5")

    assert_served(client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret"))


@pytest.mark.parametrize(
    "authorization",
    ["Bearer wrong-secret", "Bearer scrape-secre", "Token scrape-secret", "scrape-secret", ""],
)
def test_a_wrong_token_is_refused(settings: Any, authorization: str) -> None:
    settings.METRICS_TOKEN = "scrape-secret"
    client = Client(REMOTE_ADDR="203.0.113.5")

    assert_refused(client.get("/metrics", HTTP_AUTHORIZATION=authorization))


def test_without_a_configured_token_an_empty_bearer_is_refused(settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    client = Client(REMOTE_ADDR="203.0.113.5")

    assert_refused(client.get("/metrics", HTTP_AUTHORIZATION="Bearer "))


def test_with_no_allowed_addresses_only_the_token_admits(settings: Any) -> None:
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = "scrape-secret"

    assert_refused(Client().get("/metrics"))
    assert_served(Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret"))


def test_an_empty_multiprocess_directory_variable_means_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A `PROMETHEUS_MULTIPROC_DIR=` line in .env must not break /metrics under runserver.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")

    assert_served(Client().get("/metrics"))
