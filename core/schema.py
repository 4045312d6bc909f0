"""OpenAPI generation: drf-spectacular's, plus the error responses every operation can give."""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer
from rest_framework.permissions import SAFE_METHODS

from core.idempotency import REPLAYED_HEADER, honours_idempotency_key
from core.ratelimit_headers import POLICY_HEADER, STATE_HEADER

_DETAIL_ERROR = {
    "type": "object",
    "description": "An error with a human-readable message.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_VALIDATION_ERROR = {
    "type": "object",
    "description": (
        "Invalid input: each key is a field (or `non_field_errors`, or `detail` for a body "
        "that is not valid JSON) and its value the messages for it."
    ),
    "additionalProperties": {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "description": "A bulk item's field errors, by its index."},
        ]
    },
}

_DESCRIPTIONS = {
    "400": "Invalid input.",
    "401": "Missing or invalid credentials (`WWW-Authenticate` names the scheme).",
    "403": "Authenticated, but not allowed (for instance a session write without a CSRF token).",
    "404": "No such resource.",
    "406": "None of the media types in `Accept` can be served.",
    "413": "The request body is over the configured limit.",
    "412": "`If-Match` names a version that is no longer the stored one; nothing was changed.",
    "415": "The request body is not JSON.",
    "422": "The `Idempotency-Key` was already used for a different request; nothing was done.",
    "429": (
        "Over a limit: a request rate, or for book writes the daily write quota; nothing was "
        "done. Wait `Retry-After` seconds; `RateLimit` says which limit and when it is whole "
        "again."
    ),
    "500": "A fault on the server (a bug); the body says nothing more, its log does.",
    "503": "The database is unreachable; nothing was done. Retry after `Retry-After` seconds.",
}
# The list, the count and the export take `search`: PostgreSQL stops a search over
# SEARCH_STATEMENT_TIMEOUT_MS with a 503 of its own (books.search.ranking.SearchTooSlow).
_SEARCH_TOO_SLOW = (
    " Or the search ran over its time limit and was stopped (the `detail` says so): narrow it "
    "with another or a longer word, or retry after `Retry-After` seconds."
)
# The headers a throttled response carries: the IETF RateLimit fields on every counted
# response (core.ratelimit_headers), Retry-After on a 429 and a 503.
_RATELIMIT_HEADERS = {
    POLICY_HEADER: {
        "schema": {"type": "string"},
        "description": (
            "Each limit the request was counted against (draft-ietf-httpapi-ratelimit-headers), "
            'e.g. `"anon";q=600;w=60`: the policy\'s name, its quota `q` and window `w` in '
            "seconds. Absent when the limits could not be counted."
        ),
    },
    STATE_HEADER: {
        "schema": {"type": "string"},
        "description": (
            'What is left of each limit, e.g. `"anon";r=597;t=41`: `r` requests (or books, '
            "for the write quota) remain, and the window ends in `t` seconds. Pace on the "
            "smallest `r`. Absent when the limits could not be counted."
        ),
    },
}
_RETRY_AFTER = {
    "schema": {"type": "integer", "minimum": 1},
    "required": True,
    "description": "Seconds to wait before trying again.",
}
_IDEMPOTENT_REPLAYED = {
    "schema": {"type": "string", "enum": ["true"]},
    "description": (
        "`true` when this is the stored answer to an earlier request with the same "
        "`Idempotency-Key` (nothing was done this time); absent otherwise."
    ),
}


class AutoSchema(SpectacularAutoSchema):
    """Documents the error responses our API gives, so the schema tells the whole truth."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if self._answers_not_modified():
            not_modified = self._get_response_for_code(None, "304")  # with its ETag header
            not_modified["description"] = "Not modified: `If-None-Match` holds the current ETag."
            responses.setdefault("304", not_modified)
        for code in self._error_codes():
            schema = _VALIDATION_ERROR if code == "400" else _DETAIL_ERROR
            name = "ValidationError" if code == "400" else "Error"
            component = ResolvedComponent(
                name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name
            )
            self.registry.register_on_missing(component)
            description = _DESCRIPTIONS[code]
            if code == "503" and self._takes_search():
                description += _SEARCH_TOO_SLOW
            responses.setdefault(
                code,
                {
                    "description": description,
                    "content": {"application/json": {"schema": component.ref}},
                },
            )
        for code, response in responses.items():
            response.setdefault("headers", {}).update(self._response_headers(code))
            if not response["headers"]:
                del response["headers"]
        return responses

    def _response_headers(self, code: str) -> dict[str, Any]:
        """The headers the middleware and the handlers add to a response with ``code``."""
        headers: dict[str, Any] = {}
        if code in ("429", "503"):
            headers["Retry-After"] = _RETRY_AFTER
        # Counted responses carry the RateLimit fields whatever their status; the schema
        # names them where a client acts on them: a success, a 304 and the 429.
        if self._is_throttled() and (code.startswith("2") or code in ("304", "429")):
            headers.update(_RATELIMIT_HEADERS)
        # A kept outcome (a success or a refused body) is what a retry with the key replays.
        if honours_idempotency_key(self.view, self.method) and (
            code.startswith("2") or code == "400"
        ):
            headers[REPLAYED_HEADER] = _IDEMPOTENT_REPLAYED
        return headers

    def _is_throttled(self) -> bool:
        return bool(self.view.get_throttles())

    def _takes_search(self) -> bool:
        return any(parameter["name"] == "search" for parameter in self._get_filter_parameters())

    def _error_codes(self) -> list[str]:
        codes = ["406", "500", "503"]
        if self._is_throttled():
            codes.append("429")
        writes = self.method not in SAFE_METHODS
        has_body = self.method in ("POST", "PUT", "PATCH")
        if writes or self._is_list_view() or has_body or self._get_filter_parameters():
            codes.append("400")
        if self.view.get_authenticators():
            codes.append("401")
            if writes and self.view.get_permissions():
                codes.append("403")
        if "{" in self.path:
            codes.append("404")
        if has_body:
            codes += ["413", "415"]
        if honours_idempotency_key(self.view, self.method):
            codes.append("422")
        if self._is_conditional() and self.method in ("PUT", "PATCH", "DELETE"):
            codes.append("412")
        return sorted(codes)

    def _get_request_for_media_type(
        self, serializer: Any, direction: Any = "request"
    ) -> tuple[Any, bool]:
        schema, required = super()._get_request_for_media_type(serializer, direction)
        # A body that is one of several shapes (the bulk create's book or batch) is one of
        # them, never absent; drf-spectacular cannot tell from the shapes' required fields.
        return schema, required or isinstance(serializer, PolymorphicProxySerializer)

    def _get_filter_parameters(self) -> list[dict[str, Any]]:
        # An empty filter (`?published_before=`, as an HTML form sends it) is no filter, not an
        # invalid one: say so, or the schema would call a request the API serves invalid.
        parameters: list[dict[str, Any]] = super()._get_filter_parameters()
        return [{**parameter, "allowEmptyValue": True} for parameter in parameters]

    def _is_conditional(self) -> bool:
        """A view's single-object operations that honour ETag / If-Match / If-None-Match."""
        return bool(getattr(self.view, "conditional_requests", False)) and "{" in self.path

    def _is_conditional_list(self) -> bool:
        """The list of such a view: each page has an ETag, and If-None-Match gives a 304."""
        return (
            bool(getattr(self.view, "conditional_requests", False))
            and getattr(self.view, "action", None) == "list"
            and self.method == "GET"
        )

    def _answers_not_modified(self) -> bool:
        return (self._is_conditional() and self.method == "GET") or self._is_conditional_list()

    def get_override_parameters(self) -> list[Any]:
        parameters: list[Any] = list(super().get_override_parameters())
        if self._is_conditional():
            if self.method == "GET":
                parameters += [_IF_NONE_MATCH, _etag_header([200, 304])]
            elif self.method in ("PUT", "PATCH"):
                parameters += [_IF_MATCH, _etag_header([200])]
            elif self.method == "DELETE":
                parameters.append(_IF_MATCH)
        elif self._is_conditional_list():
            parameters += [_IF_NONE_MATCH, _PAGE_ETAG]
        elif self._is_create_operation() and getattr(self.view, "conditional_requests", False):
            parameters.append(_etag_header([201], "The new book's version (a single book only)."))
        return parameters


_IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "Write only if the stored version still has this ETag (from a GET or an earlier "
        "write); otherwise 412 and nothing changes. `*` matches any existing version."
    ),
)
_IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Answer 304 with no body when the current ETag is among these.",
)


def _etag_header(
    codes: list[int], description: str = "The stored version of the book (a strong validator)."
) -> OpenApiParameter:
    return OpenApiParameter(
        "ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, response=codes, description=description
    )


_PAGE_ETAG = _etag_header(
    [200, 304],
    "A digest of this page's body: send it back in `If-None-Match` to get a 304 while the "
    "page is unchanged.",
)
