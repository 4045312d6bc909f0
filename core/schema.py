"""OpenAPI generation: drf-spectacular's, plus the error responses every operation can give."""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import SAFE_METHODS

from core.idempotency import honours_idempotency_key

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
}


class AutoSchema(SpectacularAutoSchema):
    """Documents the error responses our API gives, so the schema tells the whole truth."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if self._is_conditional() and self.method == "GET":
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
            responses.setdefault(
                code,
                {
                    "description": _DESCRIPTIONS[code],
                    "content": {"application/json": {"schema": component.ref}},
                },
            )
        return responses

    def _error_codes(self) -> list[str]:
        codes = ["406"]
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

    def _get_filter_parameters(self) -> list[dict[str, Any]]:
        # An empty filter (`?published_before=`, as an HTML form sends it) is no filter, not an
        # invalid one: say so, or the schema would call a request the API serves invalid.
        parameters: list[dict[str, Any]] = super()._get_filter_parameters()
        return [{**parameter, "allowEmptyValue": True} for parameter in parameters]

    def _is_conditional(self) -> bool:
        """A view's single-object operations that honour ETag / If-Match / If-None-Match."""
        return bool(getattr(self.view, "conditional_requests", False)) and "{" in self.path

    def get_override_parameters(self) -> list[Any]:
        parameters: list[Any] = list(super().get_override_parameters())
        if self._is_conditional():
            if self.method == "GET":
                parameters += [_IF_NONE_MATCH, _etag_header([200, 304])]
            elif self.method in ("PUT", "PATCH"):
                parameters += [_IF_MATCH, _etag_header([200])]
            elif self.method == "DELETE":
                parameters.append(_IF_MATCH)
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


def _etag_header(codes: list[int]) -> OpenApiParameter:
    return OpenApiParameter(
        "ETag",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=codes,
        description="The stored version of the book (a strong validator).",
    )
