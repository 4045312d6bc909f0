"""The shipped nginx config at work: real nginx in front of stand-in instances on loopback,
one that answers and, where a test needs it, one that drops every request it is sent."""

import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy.tests.app_source import settings_default
from deploy.tests.proxy_harness import Proxy, Upstream, start_proxy, start_upstream

StartProxy = Callable[[list[Upstream]], Proxy]


@pytest.fixture
def healthy() -> Iterator[Upstream]:
    upstream = start_upstream(answering=True)
    yield upstream
    upstream.stop()


@pytest.fixture
def broken() -> Iterator[Upstream]:
    upstream = start_upstream(answering=False)
    yield upstream
    upstream.stop()


@pytest.fixture
def proxy_for(tmp_path: Path) -> Iterator[StartProxy]:
    """Starts nginx in front of the given upstreams; stops it after the test, failed or not."""
    started: list[Proxy] = []

    def start(upstreams: list[Upstream]) -> Proxy:
        started.append(start_proxy(tmp_path, upstreams))
        return started[-1]

    yield start
    for proxy in started:
        proxy.stop()


def send(proxy: Proxy, requests: list[tuple[str, str]]) -> dict[str, int]:
    """Each (method, request id) on one kept-alive connection; the status each got."""
    connection = proxy.connection()
    statuses = {}
    try:
        for method, request_id in requests:
            body = b'{"title": "Dune"}' if method in ("POST", "PUT", "PATCH") else None
            connection.request(method, "/books/", body=body, headers={"X-Request-ID": request_id})
            response = connection.getresponse()
            response.read()
            statuses[request_id] = response.status
            assert response.getheader("X-Request-ID") == request_id
    finally:
        connection.close()
    return statuses


# The broken instance is listed first: nginx's round robin picks it for the first request,
# and for others until max_fails takes it out, so some requests of each test reach it.


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_idempotent_request_is_retried_on_another_instance(
    proxy_for: StartProxy, broken: Upstream, healthy: Upstream, method: str
) -> None:
    proxy = proxy_for([broken, healthy])
    ids = [f"{method.lower()}-{n}" for n in range(6)]
    statuses = send(proxy, [(method, request_id) for request_id in ids])
    assert set(statuses.values()) == {200}
    reached_broken = broken.request_ids()
    assert reached_broken, "no request reached the broken instance: the test proved nothing"
    assert Counter(healthy.request_ids()) == Counter(ids)
    line = proxy.log_line(reached_broken[0])
    assert line["upstream_addr"] == f"{broken.address}, {healthy.address}"
    assert line["upstream_status"] == "502, 200"


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_request_that_reached_a_failed_instance_is_not_sent_again(
    proxy_for: StartProxy, broken: Upstream, healthy: Upstream, method: str
) -> None:
    proxy = proxy_for([broken, healthy])
    ids = [f"{method.lower()}-{n}" for n in range(6)]
    statuses = send(proxy, [(method, request_id) for request_id in ids])
    reached_broken = set(broken.request_ids())
    assert reached_broken, "no request reached the broken instance: the test proved nothing"
    assert reached_broken.isdisjoint(healthy.request_ids())
    for request_id in ids:
        expected = 502 if request_id in reached_broken else 200
        assert statuses[request_id] == expected, request_id
    assert Counter(healthy.request_ids()) == Counter(set(ids) - reached_broken)


@pytest.mark.parametrize("path", ["/metrics", "/metrics?format=text", "//metrics", "/%6Detrics"])
def test_metrics_are_not_served_through_the_load_balancer(
    proxy_for: StartProxy, healthy: Upstream, path: str
) -> None:
    proxy = proxy_for([healthy])
    connection = proxy.connection()
    try:
        connection.request("GET", path)
        refused = connection.getresponse()
        refused.read()
        connection.request("GET", "/books/")
        passed = connection.getresponse()
        passed.read()
    finally:
        connection.close()
    assert refused.status == 404
    assert passed.status == 200
    assert [request.path for request in healthy.seen] == ["/books/"]


def test_client_address_scheme_host_and_request_id_reach_the_instance(
    proxy_for: StartProxy, healthy: Upstream
) -> None:
    proxy = proxy_for([healthy])
    connection = proxy.connection()
    try:
        connection.request(
            "GET",
            "/books/",
            headers={
                "Host": f"books.test:{proxy.port}",
                "X-Forwarded-For": "203.0.113.7",
                "X-Forwarded-Proto": "https",
                "X-Request-ID": "client-chosen-id.1",
            },
        )
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    (seen,) = healthy.seen
    # The client's claim first, then the address nginx saw: the one the app counts by.
    assert seen.headers["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    # nginx's own scheme, not the client's claim.
    assert seen.headers["x-forwarded-proto"] == "http"
    assert seen.headers["host"] == f"books.test:{proxy.port}"
    assert seen.headers["x-request-id"] == "client-chosen-id.1"
    assert response.getheaders().count(("X-Request-ID", "client-chosen-id.1")) == 1
    line = proxy.log_line("client-chosen-id.1")
    assert (line["upstream_addr"], line["upstream_status"]) == (healthy.address, "200")


@pytest.mark.parametrize("given", [None, "has spaces in it", "x" * 129])
def test_request_id_is_made_when_missing_or_unsafe(
    proxy_for: StartProxy, healthy: Upstream, given: str | None
) -> None:
    proxy = proxy_for([healthy])
    connection = proxy.connection()
    try:
        connection.request("GET", "/books/", headers={"X-Request-ID": given} if given else {})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    (seen,) = healthy.seen
    made = seen.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert response.getheader("X-Request-ID") == made
    assert proxy.log_line(made)["status"] == "200"


def test_connections_to_an_instance_are_kept_alive(
    proxy_for: StartProxy, healthy: Upstream
) -> None:
    proxy = proxy_for([healthy])
    send(proxy, [("GET", f"keep-{n}") for n in range(5)])
    assert len(healthy.seen) == 5
    assert {request.version for request in healthy.seen} == {"HTTP/1.1"}
    assert all("connection" not in request.headers for request in healthy.seen)
    assert len({request.connection for request in healthy.seen}) == 1


def test_bodies_up_to_the_apps_limit_pass_and_larger_ones_are_refused(
    proxy_for: StartProxy, healthy: Upstream
) -> None:
    limit = settings_default("REQUEST_BODY_MAX_BYTES")
    proxy = proxy_for([healthy])
    connection = proxy.connection()
    try:
        # Larger than nginx's memory buffer: written to its temporary files on the way.
        connection.request("POST", "/books/", body=b"x" * limit)
        accepted = connection.getresponse()
        accepted.read()
        # Refused on its Content-Length, before any of it is sent.
        connection.putrequest("POST", "/books/")
        connection.putheader("Content-Length", str(limit + 1))
        connection.endheaders()
        refused = connection.getresponse()
        refused.read()
    finally:
        connection.close()
    assert (accepted.status, refused.status) == (200, 413)
    assert [request.body_length for request in healthy.seen] == [limit]


def test_load_balancer_answers_its_own_health_check(
    proxy_for: StartProxy, healthy: Upstream
) -> None:
    proxy = proxy_for([healthy])
    connection = proxy.connection()
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert (response.status, body) == (200, b'{"status": "ok"}\n')
    assert healthy.seen == []
