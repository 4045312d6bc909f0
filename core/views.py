"""Health checks and the JSON pages Django shows for errors outside DRF views."""

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from drf_spectacular.views import SpectacularSwaggerSplitView

from core.replicas.health import get_replica_health, replica_aliases

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process is up and answering. Touches nothing else."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database and the cache both answer; otherwise 503. Replicas in use are
    listed ("ok", or "skipped": down or too far behind)."""
    checks = {"database": _database_ok(), "cache": _cache_ok()}
    ready = all(checks.values())
    body: dict[str, object] = {
        "status": "ok" if ready else "unavailable",
        "checks": {name: "ok" if ok else "unavailable" for name, ok in checks.items()},
    }
    replicas = replica_aliases()
    if replicas:
        # Shown, never counted: without a replica reads go to the primary and nothing fails,
        # so taking the instance out of the load balancer would only lose capacity.
        healthy = get_replica_health().healthy()
        body["replicas"] = {alias: "ok" if alias in healthy else "skipped" for alias in replicas}
    return JsonResponse(body, status=200 if ready else 503)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.warning("readiness: database unavailable", exc_info=True)
        return False
    return True


def _cache_ok() -> bool:
    try:
        cache.set("readyz", "ok", timeout=5)
        return bool(cache.get("readyz") == "ok")
    except Exception:
        logger.warning("readiness: cache unavailable", exc_info=True)
        return False


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse(
        {"detail": "You do not have permission to perform this action."}, status=403
    )


def page_not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    # Django has already logged the exception with its traceback; the client gets no details.
    return JsonResponse({"detail": "Internal server error."}, status=500)


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI, with its start-up script served apart (no inline script, for the CSP).

    A static page: it reads no credentials (a stale token must not break it) and answers
    GET and HEAD only (its HTML renderer has nothing to say to OPTIONS).
    """

    authentication_classes = ()
    http_method_names = ["get", "head"]
