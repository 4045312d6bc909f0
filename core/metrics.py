"""Prometheus metrics: the request middleware and the protected /metrics page.

The middleware is django-prometheus's, extended at its documented seam (a Metrics subclass and
`label_metric`) so that the request latency histogram carries the response status as well as
the view and method. Database metrics come from core.db_instrumentation, cache metrics from
core.cache_backends.

/metrics answers only to addresses in METRICS_ALLOWED_IPS, or to anyone sending
`Authorization: Bearer <METRICS_TOKEN>`; everyone else gets a 403. With several server
workers (PROMETHEUS_MULTIPROC_DIR set, see deploy/server.py) the page adds up the
metrics of every worker, including those that have since exited.
"""

import functools
import hmac
import ipaddress
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_prometheus import middleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_HISTOGRAM = "django_http_requests_latency_seconds_by_view_method"

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class RequestMetrics(middleware.Metrics):
    """django-prometheus's request metrics, with a `status` label on the latency histogram."""

    def register_metric(
        self,
        metric_cls: type[Any],
        name: str,
        documentation: str,
        labelnames: Any = (),
        **kwargs: Any,
    ) -> Any:
        if name == LATENCY_HISTOGRAM:
            labelnames = (*labelnames, "status")
        return super().register_metric(metric_cls, name, documentation, labelnames, **kwargs)


#: Methods counted under their own name; anything else is one label value, so that a client
#: cannot add series by inventing methods.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


class RequestMetricsMiddleware:
    """Counts and times every response by view, method and status; counts view exceptions.

    The series the dashboard and the alerts read, under django-prometheus's names. Its own pair
    of middlewares recorded about 16 values a request (requests by method, by transport, body
    sizes, charsets, latency before and after the middleware...); in multiprocess mode each is
    a locked write to a shared file, together ~0.1 ms a request (docs/performance.md, "Where
    the time goes"). Goes low in MIDDLEWARE, where django-prometheus's After middleware went:
    the latency is the view's and the middleware below it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        metrics = RequestMetrics.get_instance()
        self.responses = metrics.responses_by_status_view_method
        self.latency = metrics.requests_latency_by_view_method
        self.exceptions_by_type = metrics.exceptions_by_type
        self.exceptions_by_view = metrics.exceptions_by_view
        # The two series of each (status, view, method), bound once: labels() validates and
        # locks on every call.
        self._series: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        method = request.method if request.method in _METHODS else "<invalid method>"
        key = (str(response.status_code), _view_name(request), method or "")
        series = self._series.get(key)
        if series is None:
            status, view, method = key
            series = self._series[key] = (
                self.responses.labels(status=status, view=view, method=method),
                self.latency.labels(view=view, method=method, status=status),
            )
        series[0].inc()
        series[1].observe(elapsed)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        # Counted here; timed once Django has turned it into an error response (__call__).
        self.exceptions_by_type.labels(type=type(exception).__name__).inc()
        self.exceptions_by_view.labels(view=_view_name(request)).inc()


def _view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return (match.view_name if match is not None else None) or "<unnamed view>"


@functools.cache
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(
        ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()
    )


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 from a dual-stack socket is 127.0.0.1
    return any(ip in network for network in _networks(tuple(settings.METRICS_ALLOWED_IPS)))


def _token_matches(request: HttpRequest) -> bool:
    token: str = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def scrape_allowed(request: HttpRequest) -> bool:
    """From an allowed address (the direct peer, never X-Forwarded-For) or with the token."""
    return _address_allowed(request.META.get("REMOTE_ADDR", "")) or _token_matches(request)


def export_metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition of this process (of every worker, in multiprocess mode)."""
    if not scrape_allowed(request):
        return JsonResponse(
            {
                "detail": "Metrics are served only to addresses in METRICS_ALLOWED_IPS "
                "or with `Authorization: Bearer <METRICS_TOKEN>`."
            },
            status=403,
        )
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def forget_exited_workers(directory: Path) -> None:
    """Drop the live gauges of workers that have exited (killed, or replaced by the server).

    A "live" gauge (replica health, for one) must leave /metrics with its worker; the server
    tells no one when a worker dies, so each scrape asks: a live gauge file names its pid.
    Counters and histograms of exited workers are kept: their counts still happened.
    """
    for path in directory.glob("gauge_live*_*.db"):
        try:
            pid = int(path.stem.rsplit("_", 1)[1])
        except ValueError:
            continue
        if not _process_exists(pid):
            multiprocess.mark_process_dead(pid, str(directory))


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _registry() -> CollectorRegistry:
    """This process's metrics, or, with several workers, every worker's from their shared
    directory.

    An empty PROMETHEUS_MULTIPROC_DIR (a `KEY=` line in .env) means single-process, as it does
    to prometheus_client itself when it chooses where to count.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return REGISTRY
    forget_exited_workers(Path(directory))
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return registry
