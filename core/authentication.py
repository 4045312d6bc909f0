"""Token authentication for the API: django-rest-knox's, which stores only a digest of each key."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from rest_framework import exceptions


class TokenAuthentication(auth.TokenAuthentication):
    """`Authorization: Token <key>`, checked against knox's hashed tokens.

    Knox decodes the key as UTF-8 unguarded, so a header with other bytes would be a 500; it
    is a 401 here, with DRF's message for it.
    """

    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        try:
            token.decode()
        except UnicodeError as error:
            raise exceptions.AuthenticationFailed(
                _("Invalid token header. Token string should not contain invalid characters.")
            ) from error
        return super().authenticate_credentials(token)  # type: ignore[no-any-return]


class TokenAuthenticationScheme(KnoxTokenScheme):
    """Documents the scheme in OpenAPI under the name it had with DRF's tokens."""

    target_class = "core.authentication.TokenAuthentication"
    name = "tokenAuth"
