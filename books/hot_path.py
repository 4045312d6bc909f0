"""Anonymous JSON reads of books answered from the shared cache, before Django runs.

A cache hit costs one round trip to Redis (books.read_cache: the anon throttle's counter, the
epoch and the entry in one Lua call) and no database, middleware or view. Everything else,
and every miss, goes to Django unchanged; a miss's response is stored for the next reader.

What this path keeps from the full stack:
- Only requests Django would answer the same for everyone come here: GET or HEAD, no
  credentials (Authorization or a session cookie), no Origin (CORS), a JSON Accept, an allowed
  Host, and for a book's own URL no query string (``?format=api`` is the browsable page).
  Anything else falls through, so auth errors, CORS and content negotiation stay Django's.
- Throttling: the hit is counted against the anonymous client's own counter
  (core.throttling.AnonRateThrottle's key); over the limit the request goes to Django, which
  answers the 429 with the count already taken. A hit's RateLimit fields are built from that
  count by core.ratelimit_headers, as Django's are.
- Conditional requests: If-None-Match against the stored ETag gives a 304.
- Headers: those Django's middleware set on the stored response (security headers, CSP,
  Vary, ETag, Cache-Control) are replayed; HSTS is added for secure requests, as Django's
  SecurityMiddleware does, and the response gets its own X-Request-ID.
- The access log line (core.request_id's, labelled with the route and view Django's resolver
  gives the path) and a metric for each response (django-prometheus's request metrics see only
  what reaches Django).

Where a rule is Django's, it is asked of Django, not restated: the host and HTTPS are
core.http_rules' (HttpRequest.get_host and is_secure on the environ), HSTS is
SecurityMiddleware's own header, the throttle key is core.throttling's, the ETag is
books.etags'. books/tests/test_hot_path_parity.py sends requests through both paths and
compares the answers.
"""

import contextlib
import hashlib
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http.cookie import parse_cookie
from django.urls import ResolverMatch, resolve
from prometheus_client import Counter
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from books import read_cache
from books.etags import parse_book_etag, representation_tag
from books.list_query import FORMAT_PARAMETER, canonical_query
from core.conditional import if_none_match_hits
from core.http_rules import EnvironRequest, allowed_host, hsts_header
from core.ratelimit_headers import POLICY_HEADER, STATE_HEADER, ratelimit_fields
from core.replicas.routing import READ_FROM_PRIMARY_ENVIRON_KEY
from core.request_id import REQUEST_ID_HEADER, log_request_finished, safe_request_id
from core.throttling import (
    HOT_PATH_COUNT_KEY,
    AnonRateThrottle,
    anon_counter_key,
    counted_quota,
)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


LIST_PATH = "/books/"
_KINDS = {"book": "d", "list": "l"}  # the kind letters of books.read_cache keys
_BOOK_PATH = re.compile(r"/books/([0-9]{1,18})/\Z")
#: The view each kind of page replays, as Django's URLconf names it.
_VIEW_NAMES = {"book": "book-detail", "list": "book-list"}
_JSON_ACCEPT = frozenset({"", "*/*", "application/json"})
# Per request, not per page: a hit sends its own request id and RateLimit fields.
_NOT_REPLAYED = frozenset(
    {
        REQUEST_ID_HEADER.lower(),
        "set-cookie",
        "strict-transport-security",
        "date",
        "server",
        POLICY_HEADER.lower(),
        STATE_HEADER.lower(),
    }
)
_NOT_IN_304 = frozenset({"content-type", "content-length"})

RESPONSES = Counter(
    "bookstore_read_cache_responses_total",
    "Anonymous book reads that came to the read cache, by page kind and what it did: "
    "hit (served), not_modified (a 304 served), miss (served by Django, then stored).",
    ["kind", "result"],
)
# Every series from the start, bound once: a hit then costs no label lookup.
_COUNTED = {
    (kind, result): RESPONSES.labels(kind=kind, result=result)
    for kind in ("book", "list")
    for result in ("hit", "not_modified", "miss")
}


class CachedReads:
    """WSGI middleware around Django's application (bookstore.wsgi)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self._configured = False

    def _configure(self) -> None:
        self.enabled = read_cache.enabled()
        self.ttl = read_cache.ttl()
        # The rate as DRF's throttles read it, so both paths count against one limit.
        rate = AnonRateThrottle.THROTTLE_RATES.get("anon")
        throttled = any(
            isinstance(cls, type) and issubclass(cls, AnonRateThrottle)
            for cls in api_settings.DEFAULT_THROTTLE_CLASSES
        )
        self.anon_limit: int | None = None
        self.anon_window = 0
        if rate and throttled:
            limit, window = SimpleRateThrottle.parse_rate(None, rate)  # type: ignore[arg-type]
            self.anon_limit, self.anon_window = limit, int(window or 0)
        self.session_cookie = settings.SESSION_COOKIE_NAME
        self.ssl_redirect = settings.SECURE_SSL_REDIRECT
        self.hsts = hsts_header()
        self.routes = _routes()
        self._configured = True

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not self._configured:
            self._configure()
        if not self.enabled or environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        if path == LIST_PATH:
            kind = "list"
        else:
            match = _BOOK_PATH.match(path)
            if match is None or query:
                return self.app(environ, start_response)
            kind = "book"
        # No Host header, or an empty one: Django's to answer (a 400, or a page whose links
        # name the server's own address), never a cached page.
        if not environ.get("HTTP_HOST") or not self._anonymous_json(environ):
            return self.app(environ, start_response)
        request = EnvironRequest(environ)
        host = allowed_host(request)
        if host is None:
            return self.app(environ, start_response)
        secure = request.is_secure()
        if self.ssl_redirect and not secure:
            return self.app(environ, start_response)

        started = time.perf_counter()
        if kind == "book":
            name = match.group(1)  # type: ignore[union-attr]
        else:
            # Keyed on what shapes the page: its links are absolute (scheme, host and the
            # script prefix in request.path) and carry the canonical query, which also
            # names the page. An unknown parameter or invalid value is Django's 400, a
            # ?format= its content negotiation: neither is stored.
            params = request.GET
            canonical = None if FORMAT_PARAMETER in params else canonical_query(params)
            if canonical is None:
                return self.app(environ, start_response)
            # The book's representation too: a page stored by a release that shaped books
            # otherwise is another page (a book's entry is checked by its ETag instead).
            url = f"{representation_tag()}:{request.scheme}://{host}{request.path}?{canonical}"
            name = hashlib.blake2b(url.encode(), digest_size=16).hexdigest()
        counter = anon_counter_key(environ, self.anon_window) if self.anon_limit else None
        try:
            found = read_cache.get_store().lookup(_KINDS[kind], name, counter, self.anon_window)
        except read_cache.CacheUnavailable:
            return self.app(environ, start_response)
        if found.anon_count is not None:  # counted: the anon throttle must not count again
            environ[HOT_PATH_COUNT_KEY] = found.anon_count
        over_limit = (
            found.anon_count is not None
            and self.anon_limit is not None
            and found.anon_count > self.anon_limit
        )
        if over_limit:
            return self.app(environ, start_response)  # Django answers the 429
        if found.entry is not None and (kind == "list" or _current_book_entry(found.entry)):
            fields = self._ratelimit_fields(found.anon_count)
            return self._replay(request, start_response, kind, found.entry, secure, started, fields)
        return self._fill(environ, start_response, kind, found.key)

    # --- which requests ------------------------------------------------------------------

    def _anonymous_json(self, environ: dict[str, Any]) -> bool:
        return (
            "HTTP_AUTHORIZATION" not in environ
            and "HTTP_ORIGIN" not in environ
            and not self._has_session_cookie(environ.get("HTTP_COOKIE", ""))
            and environ.get("HTTP_ACCEPT", "").strip() in _JSON_ACCEPT
        )

    def _has_session_cookie(self, header: str) -> bool:
        """Whether Django would read a session from this Cookie header: parsed as Django
        parses it (``sessionid =x`` names the session cookie too), not searched for."""
        return bool(header) and self.session_cookie in parse_cookie(header)

    # --- a hit ---------------------------------------------------------------------------

    def _ratelimit_fields(self, anon_count: int | None) -> list[tuple[str, str]]:
        """The RateLimit fields Django's anon throttle would send for this count."""
        if anon_count is None or self.anon_limit is None:
            return []
        quota = counted_quota(
            policy=str(AnonRateThrottle.scope),
            limit=self.anon_limit,
            window=self.anon_window,
            used=anon_count,
        )
        return list(ratelimit_fields([quota]).items())

    def _replay(
        self,
        request: EnvironRequest,
        start_response: StartResponse,
        kind: str,
        entry: read_cache.Entry,
        secure: bool,
        started: float,
        ratelimit: list[tuple[str, str]],
    ) -> Iterable[bytes]:
        environ = request.environ
        request_id = safe_request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        headers = [*entry.headers, *ratelimit, (REQUEST_ID_HEADER, request_id)]
        if secure and self.hsts:
            headers.append(("Strict-Transport-Security", self.hsts))
        etag = entry.etag
        if etag and if_none_match_hits(environ.get("HTTP_IF_NONE_MATCH"), etag):
            status, result, body = "304 Not Modified", "not_modified", b""
            headers = [pair for pair in headers if pair[0].lower() not in _NOT_IN_304]
        else:
            status, result, body = "200 OK", "hit", entry.body
        start_response(status, headers)
        _COUNTED[kind, result].inc()
        log_request_finished(
            method=environ["REQUEST_METHOD"],
            path=request.path,
            match=self.routes[kind],
            status=int(status[:3]),
            duration_ms=(time.perf_counter() - started) * 1000,
            user_id=None,
            request_id=request_id,
            read_cache=result,
        )
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    # --- a miss --------------------------------------------------------------------------

    def _fill(
        self, environ: dict[str, Any], start_response: StartResponse, kind: str, key: str
    ) -> Iterable[bytes]:
        response: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            response["status"], response["headers"] = status, headers
            return start_response(status, headers, exc_info)

        # The cache keeps what it is given until the next write: it is filled from the
        # primary, never from a replica that may not have replayed that write yet.
        environ[READ_FROM_PRIMARY_ENVIRON_KEY] = True
        result = self.app(environ, capture)
        entry_version = self._storable(environ, kind, response)
        if entry_version is None:
            return result
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        headers = [pair for pair in response["headers"] if pair[0].lower() not in _NOT_REPLAYED]
        _COUNTED[kind, "miss"].inc()
        # A cache failure only means the next reader tries again.
        with contextlib.suppress(read_cache.CacheUnavailable):
            entry = read_cache.Entry(entry_version, headers, body)
            read_cache.get_store().store(key, entry, self.ttl)
        return [body]

    def _storable(self, environ: dict[str, Any], kind: str, response: dict[str, Any]) -> int | None:
        """The version to store the response at, or None if it must not be stored."""
        if environ["REQUEST_METHOD"] != "GET" or not response.get("status", "").startswith("200"):
            return None
        headers = {name.lower(): value for name, value in response["headers"]}
        if headers.get("content-type") != "application/json" or "set-cookie" in headers:
            return None
        if kind == "list":
            return 1  # one generation's pages never change: the first stored stands
        tag = parse_book_etag(headers.get("etag", ""))
        # Its own URL only: /books/0042/ is the same book, but Django's 200 there is not kept.
        if tag is None or environ.get("PATH_INFO") != f"{LIST_PATH}{tag.book_id}/":
            return None
        return tag.version


def _current_book_entry(entry: read_cache.Entry) -> bool:
    """Whether a stored book holds today's representation: one stored by an older release is
    left to Django (and expires), never replayed."""
    return parse_book_etag(entry.etag or "") is not None


def _routes() -> dict[str, ResolverMatch]:
    """Django's URL resolver's answer for each kind of page, which labels its access line.

    Resolved once: a hit logs the same route and view as Django's request for that page.
    """
    routes = {"book": resolve(f"{LIST_PATH}1/"), "list": resolve(LIST_PATH)}
    for kind, match in routes.items():
        if match.view_name != _VIEW_NAMES[kind]:
            raise ImproperlyConfigured(
                f"books.hot_path answers {match.route!r} as {_VIEW_NAMES[kind]}, but the "
                f"URLconf routes it to {match.view_name}: update the hot path's paths."
            )
    return routes
