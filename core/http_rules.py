"""Django's own answers about a bare WSGI environ, for code that runs before Django does.

books.hot_path answers some requests without Django. The host it accepts, whether it deems a
request secure and the Strict-Transport-Security header it sends must be Django's answers for
the same request, so these ask Django's code (HttpRequest.get_host, HttpRequest.is_secure,
SecurityMiddleware) instead of restating its rules, which drift (USE_X_FORWARDED_HOST, DEBUG's
default hosts, a changed proxy header).
"""

from typing import Any

from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse
from django.middleware.security import SecurityMiddleware
from django.utils.functional import cached_property


class EnvironRequest(WSGIRequest):
    """Django's request for ``environ``, not parsed: what get_host(), is_secure() and
    ``scheme`` read (META and environ) and nothing more.

    WSGIRequest.__init__ would also decode the path and wrap the body (about 2.5 µs, as much
    as the host check); a cache hit needs neither, so only ``path`` builds the full request.
    """

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = self.META = environ

    @cached_property
    def path(self) -> str:  # type: ignore[override]
        """``request.path`` as Django computes it (SCRIPT_NAME, FORCE_SCRIPT_NAME)."""
        return WSGIRequest(dict(self.environ)).path


def allowed_host(request: HttpRequest) -> str | None:
    """The request's host as get_host() gives it, or None where Django refuses it (a 400)."""
    try:
        return request.get_host()
    except DisallowedHost:
        return None


def hsts_header() -> str:
    """The Strict-Transport-Security value SecurityMiddleware adds to a secure response under
    the current settings; "" when it adds none."""
    middleware = SecurityMiddleware(lambda request: HttpResponse())
    secure_request = EnvironRequest({"wsgi.url_scheme": "https"})
    response = middleware.process_response(secure_request, HttpResponse())
    return str(response.get("Strict-Transport-Security", ""))
