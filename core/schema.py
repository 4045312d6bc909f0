"""OpenAPI generation: drf-spectacular's, plus the error responses every operation can give."""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import SAFE_METHODS

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
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
    },
}

_DESCRIPTIONS = {
    "400": "Invalid input.",
    "401": "Missing or invalid credentials (`WWW-Authenticate` names the scheme).",
    "403": "Authenticated, but not allowed (for instance a session write without a CSRF token).",
    "404": "No such resource.",
    "406": "None of the media types in `Accept` can be served.",
    "413": "The request body is over the configured limit.",
    "415": "The request body is not JSON.",
}


class AutoSchema(SpectacularAutoSchema):
    """Documents the error responses our API gives, so the schema tells the whole truth."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
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
        if writes or self._is_list_view() or has_body:
            codes.append("400")
        if self.view.get_authenticators():
            codes.append("401")
            if writes and self.view.get_permissions():
                codes.append("403")
        if "{" in self.path:
            codes.append("404")
        if has_body:
            codes += ["413", "415"]
        return sorted(codes)
